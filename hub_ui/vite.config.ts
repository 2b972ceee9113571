import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The Hub is served by Luna itself: hashed files under /assets/ (cached for a year),
// index.html revalidated on every load. No inline script, so a strict CSP holds.
// Luna's build script sets LUNA_HUB_OUT to a directory under cargo's OUT_DIR.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: process.env.LUNA_HUB_OUT ?? 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
});
