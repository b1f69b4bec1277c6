// Teams: groups of consumers sharing a budget and rate limit (/admin/v1/teams).

import { resourcePage, rateLimitFields, budgetFields, rateLimitText, budgetText } from '../lib/resource.js';

export const fields = [
  { name: 'name', label: 'Name', required: true },
  ...budgetFields(),
  ...rateLimitFields(),
];

export async function render(view, ctx) {
  await resourcePage(view, ctx, {
    title: 'Teams',
    what: 'team',
    base: '/admin/v1/teams',
    fields,
    intro: 'A team’s budget and rate limit apply to all its consumers together.',
    columns: [
      { label: 'Budget', get: (r) => budgetText(r.budget) },
      { label: 'Rate limit', get: (r) => rateLimitText(r.rate_limit) },
      { label: 'Source', get: (r) => r.source },
    ],
  });
}
