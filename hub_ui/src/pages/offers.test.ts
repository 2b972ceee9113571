import { describe, expect, it } from 'vitest';
import type { Schemas } from '../api/client';
import { offerGroups, offeredSummary, type Offer } from './offers';

const offer = (extension: string, kind: Offer['kind'], key: string, more: Partial<Offer> = {}): Offer => ({
  kind,
  key,
  name: key,
  extension,
  template: false,
  enabled_in_mcp: true,
  in_mcp: true,
  ...more,
});

const tool = (name: string, in_mcp: boolean): Schemas['ToolEntry'] => ({
  name,
  extension: 'hello',
  input_schema: {},
  enabled_in_mcp: in_mcp,
  passthrough: false,
  in_mcp,
});

describe('what extensions offer over MCP', () => {
  it("groups one extension's prompts, resources and templates, leaving out empty groups and other extensions", () => {
    const offers = [
      offer('hello', 'resource', 'file:///readme'),
      offer('hello', 'resource', 'file:///{path}', { template: true }),
      offer('other', 'prompt', 'greet'),
      offer('hello', 'prompt', 'summarize'),
      offer('hello', 'resource', 'file:///notes'),
    ];
    expect(offerGroups(offers, 'hello').map((group) => [group.title, group.offers.map((one) => one.key)])).toEqual([
      ['Prompts', ['summarize']],
      ['Resources', ['file:///readme', 'file:///notes']],
      ['Resource templates', ['file:///{path}']],
    ]);
    expect(offerGroups(offers, 'other').map((group) => group.id)).toEqual(['prompts']);
    expect(offerGroups(offers, 'none')).toEqual([]);
  });

  it('counts only what is served now', () => {
    const offers = [
      offer('hello', 'prompt', 'summarize'),
      offer('other', 'prompt', 'summarize', { in_mcp: false, problem: '`summarize` is already offered by extension `hello`' }),
      offer('hello', 'resource', 'file:///readme', { enabled_in_mcp: false, in_mcp: false }),
      offer('hello', 'resource', 'file:///notes'),
      offer('hello', 'resource', 'file:///{path}', { template: true }),
    ];
    expect(offeredSummary({ tools: [tool('echo', true), tool('time', false)], offers })).toBe(
      '1 tool, 1 prompt, 1 resource and 1 resource template offered.',
    );
    expect(offeredSummary({ tools: [], offers: [] })).toBe('0 tools, 0 prompts, 0 resources and 0 resource templates offered.');
  });
});
