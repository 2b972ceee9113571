// What extensions offer over MCP besides tools: prompts, resources and resource templates
// (`offers` of `GET /api/supervisor/tools`), grouped and counted as the Hub shows them.
import type { Schemas } from '../api/client';

export type Offer = Schemas['OfferEntry'];

export type OfferGroup = { id: 'prompts' | 'resources' | 'templates'; title: string; offers: Offer[] };

const groupOf = (offer: Offer): OfferGroup['id'] =>
  offer.kind === 'prompt' ? 'prompts' : offer.template ? 'templates' : 'resources';

/** One extension's prompts, resources and resource templates, in that order; empty groups left out. */
export function offerGroups(offers: Offer[], extension: string): OfferGroup[] {
  const groups: OfferGroup[] = [
    { id: 'prompts', title: 'Prompts', offers: [] },
    { id: 'resources', title: 'Resources', offers: [] },
    { id: 'templates', title: 'Resource templates', offers: [] },
  ];
  for (const offer of offers) {
    if (offer.extension === extension) groups.find((group) => group.id === groupOf(offer))?.offers.push(offer);
  }
  return groups.filter((group) => group.offers.length > 0);
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** "3 tools, 1 prompt, 2 resources and 1 resource template offered.": what `/api/mcp` serves now. */
export function offeredSummary(report: Pick<Schemas['ToolsReport'], 'tools' | 'offers'>): string {
  const served = report.offers.filter((offer) => offer.in_mcp);
  const of = (id: OfferGroup['id']) => served.filter((offer) => groupOf(offer) === id).length;
  const parts = [
    count(report.tools.filter((tool) => tool.in_mcp).length, 'tool', 'tools'),
    count(of('prompts'), 'prompt', 'prompts'),
    count(of('resources'), 'resource', 'resources'),
    count(of('templates'), 'resource template', 'resource templates'),
  ];
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]} offered.`;
}
