// The console's pages, in navigation order. To add a page: write pages/NAME.js
// exporting `render(view, ctx)` and add one line here (see docs/console.md,
// "Adding a page"). `roles` limits who sees it (default: admin, operator, viewer);
// `group` is its navigation heading. Modules load on first visit.

const READ = ['admin', 'operator', 'viewer'];

export const pages = [
  { path: 'home', title: 'Home', group: '', load: () => import('./home.js') },
  { path: 'providers', title: 'Providers', group: 'AI gateway', load: () => import('./providers.js') },
  { path: 'models', title: 'Models', group: 'AI gateway', load: () => import('./models.js') },
  { path: 'masking', title: 'Masking', group: 'AI gateway', load: () => import('./masking.js') },
  { path: 'teams', title: 'Teams', group: 'Consumers', load: () => import('./teams.js') },
  { path: 'consumers', title: 'Consumers & keys', group: 'Consumers', load: () => import('./consumers.js') },
  { path: 'limits', title: 'Limits, budgets, credits', group: 'Consumers', load: () => import('./limits.js') },
  { path: 'subscriptions', title: 'Subscriptions', group: 'Consumers', load: () => import('./subscriptions.js') },
  { path: 'services', title: 'Services', group: 'API management', load: () => import('./services.js') },
  { path: 'import', title: 'OpenAPI import', group: 'API management', load: () => import('./import.js'), roles: ['admin', 'operator'] },
  { path: 'prompt-apis', title: 'Prompt-APIs', group: 'API management', load: () => import('./prompt_apis.js') },
  { path: 'calls', title: 'Call log', group: 'Traffic', load: () => import('./calls.js') },
  { path: 'dashboards', title: 'Dashboards', group: 'Traffic', load: () => import('./dashboards.js') },
  { path: 'playground', title: 'Playground', group: 'Traffic', load: () => import('./playground.js'), roles: ['admin', 'operator'] },
  { path: 'alerts', title: 'Alerts', group: 'Operations', load: () => import('./alerts.js') },
  { path: 'audit', title: 'Audit log', group: 'Operations', load: () => import('./audit.js'), roles: ['admin', 'operator'] },
  { path: 'users', title: 'Users', group: 'Operations', load: () => import('./users.js'), roles: ['admin'] },
].map((p) => ({ roles: READ, ...p }));
