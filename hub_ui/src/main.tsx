import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createBrowserRouter, RouterProvider } from 'react-router';
import { Layout, NotFound } from './App';
import { Chat } from './pages/Chat';
import { Dashboard } from './pages/Dashboard';
import { ExtensionDetail } from './pages/ExtensionDetail';
import { Extensions } from './pages/Extensions';
import { Infrastructure } from './pages/Infrastructure';
import { Keys } from './pages/Keys';
import { Mcp } from './pages/Mcp';
import { Sessions } from './pages/Sessions';
import { Activity } from './pages/Activity';
import { Settings } from './pages/Settings';
import { Store } from './pages/Store';
import './styles.css';

// The change feed keeps queries fresh, so nothing polls; a refocused window refetches in
// case the feed was down meanwhile.
const queries = new QueryClient({
  defaultOptions: { queries: { staleTime: 30_000, retry: 1, refetchOnWindowFocus: true } },
});

const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      { path: '/', element: <Dashboard /> },
      { path: '/extensions', element: <Extensions /> },
      { path: '/extensions/:name', element: <ExtensionDetail /> },
      { path: '/store', element: <Store /> },
      { path: '/keys', element: <Keys /> },
      { path: '/infrastructure', element: <Infrastructure /> },
      { path: '/mcp', element: <Mcp /> },
      { path: '/chat', element: <Chat /> },
      { path: '/sessions', element: <Sessions /> },
      { path: '/activity', element: <Activity /> },
      { path: '/settings', element: <Settings /> },
      { path: '*', element: <NotFound /> },
    ],
  },
]);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queries}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
