// An extension's readme, rendered by react-markdown: no raw HTML is ever rendered (it is
// dropped), and links keep only http(s), mailto and relative targets (its default filter).
import { useQuery } from '@tanstack/react-query';
import Markdown from 'react-markdown';
import { ApiProblem, api, unwrap } from '../api/client';

export default function ReadmeView({ extension }: { extension: string }) {
  const readme = useQuery({
    queryKey: ['readme', extension],
    retry: false,
    queryFn: () =>
      unwrap(api.GET('/api/supervisor/extensions/{name}/readme', { params: { path: { name: extension } } })),
  });
  if (readme.error instanceof ApiProblem && readme.error.status === 404) {
    return <p className="muted">This extension has no readme.</p>;
  }
  if (readme.error) return <p className="error">{readme.error.message}</p>;
  if (!readme.data) return <p className="muted">Loading the readme…</p>;
  return (
    <article className="readme" aria-label={readme.data.file} id="readme">
      <Markdown skipHtml>{readme.data.text}</Markdown>
    </article>
  );
}
