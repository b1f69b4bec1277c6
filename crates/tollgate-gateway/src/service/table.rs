//! The routing table of every service, built once per configuration snapshot: a radix
//! router of path prefixes, and per service a radix router of its routes, so a request
//! costs one lookup in each whatever the number of services and routes.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tollgate_core::snapshot::Snapshot;
use tollgate_core::spec::ServiceSpec;

/// How long a node that refused a connection or answered 5xx is passed over.
pub const COOLDOWN: Duration = Duration::from_secs(10);

/// Every service of one snapshot.
#[derive(Debug, Default)]
pub struct ServiceTable {
    prefixes: matchit::Router<usize>,
    services: Vec<Compiled>,
}

/// One service, ready to route.
#[derive(Debug)]
pub struct Compiled {
    pub spec: Arc<ServiceSpec>,
    /// `None` when the service declares no routes (everything under the prefix goes).
    routes: Option<matchit::Router<Vec<usize>>>,
    /// Shared with the next snapshot's table while the nodes stay the same, so a
    /// configuration change elsewhere neither forgets a node's cooldown nor restarts
    /// the weighted rotation.
    pub balancer: Arc<Balancer>,
}

/// What a path and method resolve to within a service.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// Forward to this upstream path (without the node's base path); `route` is the
    /// route's name, or `None` for a service without routes.
    Forward {
        route: Option<String>,
        path: String,
    },
    NotFound,
    /// The path exists with other methods (the `Allow` list).
    WrongMethod(Vec<String>),
}

impl ServiceTable {
    /// The table of `snapshot`; a service whose nodes (URLs and weights) are those of
    /// `previous` keeps its balancer.
    pub fn build(snapshot: &Snapshot, previous: Option<&ServiceTable>) -> ServiceTable {
        let mut table = ServiceTable::default();
        let mut specs: Vec<&Arc<ServiceSpec>> = snapshot.services.values().collect();
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        for spec in specs {
            let idx = table.services.len();
            let prefix = spec.path_prefix.as_str();
            let inserted = [
                prefix.to_string(),
                format!("{prefix}/"),
                format!("{prefix}/{{*rest}}"),
            ]
            .iter()
            .try_for_each(|p| table.prefixes.insert(p.as_str(), idx));
            if let Err(e) = inserted {
                tracing::warn!(service = %spec.name, error = %e, "service prefix not routable; skipped");
                continue;
            }
            let kept = previous
                .and_then(|p| p.services.iter().find(|c| c.spec.name == spec.name))
                .filter(|c| c.spec.upstream.nodes == spec.upstream.nodes)
                .map(|c| c.balancer.clone());
            table.services.push(Compiled {
                routes: compile_routes(spec),
                balancer: kept.unwrap_or_else(|| {
                    Arc::new(Balancer::new(spec.upstream.nodes.iter().map(|n| n.weight)))
                }),
                spec: spec.clone(),
            });
        }
        table
    }

    /// The service whose prefix `path` is under, and the rest of the path.
    pub fn find<'a>(&self, path: &'a str) -> Option<(&Compiled, &'a str)> {
        let m = self.prefixes.at(path).ok()?;
        let svc = self.services.get(*m.value)?;
        Some((svc, path.get(svc.spec.path_prefix.len()..).unwrap_or("")))
    }
}

fn compile_routes(spec: &ServiceSpec) -> Option<matchit::Router<Vec<usize>>> {
    if spec.routes.is_empty() {
        return None;
    }
    let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (i, r) in spec.routes.iter().enumerate() {
        by_path
            .entry(r.path.as_str())
            .or_insert_with(|| {
                order.push(r.path.as_str());
                Vec::new()
            })
            .push(i);
    }
    let mut router = matchit::Router::new();
    for path in order {
        let idxs = by_path.remove(path).unwrap_or_default();
        if let Err(e) = router.insert(path, idxs) {
            // The config check refuses conflicts; a stored one is skipped loudly.
            tracing::warn!(service = %spec.name, route_path = path, error = %e, "route skipped");
        }
    }
    Some(router)
}

impl Compiled {
    /// Resolves `rest` (the path after the prefix) for `method`.
    pub fn route(&self, method: &str, rest: &str) -> RouteMatch {
        let Some(router) = &self.routes else {
            return RouteMatch::Forward {
                route: None,
                path: rest.to_string(),
            };
        };
        let lookup = if rest.is_empty() { "/" } else { rest };
        let Ok(m) = router.at(lookup) else {
            return RouteMatch::NotFound;
        };
        let routes = &self.spec.routes;
        let chosen = m.value.iter().filter_map(|&i| routes.get(i)).find(|r| {
            r.methods.is_empty()
                || r.methods.iter().any(|x| x == method)
                || (method == "HEAD" && r.methods.iter().any(|x| x == "GET"))
        });
        let Some(route) = chosen else {
            let allow: BTreeSet<String> = m
                .value
                .iter()
                .filter_map(|&i| routes.get(i))
                .flat_map(|r| r.methods.iter().cloned())
                .collect();
            return RouteMatch::WrongMethod(allow.into_iter().collect());
        };
        let path = match &route.rewrite {
            None => rest.to_string(),
            Some(template) => {
                let mut out = template.clone();
                for (name, value) in m.params.iter() {
                    out = out.replace(&format!("{{{name}}}"), value);
                }
                out
            }
        };
        RouteMatch::Forward {
            route: Some(route.name.clone()),
            path,
        }
    }
}

/// Smooth weighted round robin (nginx's) over the nodes not cooling down.
#[derive(Debug)]
pub struct Balancer {
    weights: Vec<i64>,
    state: Mutex<BalancerState>,
}

#[derive(Debug)]
struct BalancerState {
    current: Vec<i64>,
    cool_until: Vec<Option<Instant>>,
}

impl Balancer {
    pub fn new(weights: impl Iterator<Item = u32>) -> Balancer {
        let weights: Vec<i64> = weights.map(|w| i64::from(w.max(1))).collect();
        let n = weights.len();
        Balancer {
            weights,
            state: Mutex::new(BalancerState {
                current: vec![0; n],
                cool_until: vec![None; n],
            }),
        }
    }

    /// The next node, never one in `exclude`; nodes cooling down are passed over
    /// unless every other node is too. `None` when `exclude` covers every node.
    pub fn pick(&self, exclude: &[usize]) -> Option<usize> {
        let now = Instant::now();
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = self.weights.len();
        let open = |i: usize| !exclude.contains(&i);
        let warm = |s: &BalancerState, i: usize| s.cool_until[i].is_none_or(|t| t <= now);
        // Cooling nodes count only when no open node is warm. No allocation: this runs
        // on every service request.
        let any_warm = (0..n).any(|i| open(i) && warm(&s, i));
        let mut total: i64 = 0;
        let mut best: Option<usize> = None;
        for i in 0..n {
            if !open(i) || (any_warm && !warm(&s, i)) {
                continue;
            }
            total += self.weights[i];
            s.current[i] += self.weights[i];
            if best.is_none_or(|b| s.current[i] > s.current[b]) {
                best = Some(i);
            }
        }
        if let Some(b) = best {
            s.current[b] -= total;
        }
        best
    }

    /// Passes `node` over for [`COOLDOWN`].
    pub fn cool_down(&self, node: usize) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = s.cool_until.get_mut(node) {
            *slot = Some(Instant::now() + COOLDOWN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::spec::{ServiceNode, ServiceRoute, ServiceUpstream};

    fn spec(prefix: &str, routes: Vec<ServiceRoute>) -> ServiceSpec {
        ServiceSpec {
            name: prefix.trim_start_matches('/').replace('/', "-"),
            path_prefix: prefix.into(),
            upstream: ServiceUpstream {
                nodes: vec![ServiceNode {
                    url: "http://127.0.0.1:1".into(),
                    weight: 1,
                }],
                timeout_ms: None,
                pass_host: None,
            },
            routes,
            auth: None,
            rate_limit: None,
            subscription: None,
            lifecycle: Default::default(),
            sunset_at: None,
            description: None,
        }
    }

    fn route(name: &str, methods: &[&str], path: &str, rewrite: Option<&str>) -> ServiceRoute {
        ServiceRoute {
            name: name.into(),
            methods: methods.iter().map(|m| m.to_string()).collect(),
            path: path.into(),
            rewrite: rewrite.map(str::to_string),
            docs: None,
        }
    }

    #[test]
    fn prefixes_params_rewrites_and_methods() {
        let snap = Snapshot::default().with_services(vec![
            spec(
                "/svc/weather",
                vec![
                    route(
                        "forecast",
                        &["GET"],
                        "/forecast/{city}",
                        Some("/v2/f/{city}"),
                    ),
                    route("report", &["POST"], "/reports", None),
                    route("report-get", &["GET"], "/reports", None),
                ],
            ),
            spec("/svc/open", vec![]),
        ]);
        let t = ServiceTable::build(&snap, None);
        assert!(t.find("/svc/weatherx").is_none());
        assert!(t.find("/other").is_none());
        let (w, rest) = t.find("/svc/weather/forecast/paris").expect("found");
        assert_eq!(rest, "/forecast/paris");
        assert_eq!(
            w.route("GET", rest),
            RouteMatch::Forward {
                route: Some("forecast".into()),
                path: "/v2/f/paris".into()
            }
        );
        assert_eq!(
            w.route("DELETE", rest),
            RouteMatch::WrongMethod(vec!["GET".into()])
        );
        assert_eq!(
            w.route("PUT", "/reports"),
            RouteMatch::WrongMethod(vec!["GET".into(), "POST".into()])
        );
        assert_eq!(w.route("GET", "/forecast"), RouteMatch::NotFound);
        assert_eq!(w.route("GET", "/forecast/a/b"), RouteMatch::NotFound);
        let (o, rest) = t.find("/svc/open").expect("bare prefix");
        assert_eq!(rest, "");
        assert_eq!(
            o.route("PATCH", "/any/thing"),
            RouteMatch::Forward {
                route: None,
                path: "/any/thing".into()
            }
        );
    }

    #[test]
    fn smooth_weighted_round_robin_and_cooldown() {
        let b = Balancer::new([3u32, 1].into_iter());
        let picks: Vec<usize> = (0..8).filter_map(|_| b.pick(&[])).collect();
        assert_eq!(picks.iter().filter(|&&p| p == 0).count(), 6);
        assert_eq!(picks.iter().filter(|&&p| p == 1).count(), 2);
        b.cool_down(0);
        assert!((0..5).all(|_| b.pick(&[]) == Some(1)));
        assert_eq!(b.pick(&[1]), Some(0), "a cooling node beats none");
        assert_eq!(b.pick(&[0, 1]), None);
    }

    #[test]
    fn a_new_snapshot_keeps_the_balancer_of_unchanged_nodes() {
        let weather = spec("/svc/weather", vec![]);
        let mut moved = spec("/svc/open", vec![]);
        moved.name = "open".into();
        let first = ServiceTable::build(
            &Snapshot::default().with_services(vec![weather.clone(), moved.clone()]),
            None,
        );
        let (w, _) = first.find("/svc/weather").expect("weather");
        w.balancer.cool_down(0);
        // Another change (a route added to weather, open's nodes changed): weather's
        // cooldown stays, open starts afresh.
        let mut weather2 = weather.clone();
        weather2.routes.push(route("r", &["GET"], "/r", None));
        let mut moved2 = moved.clone();
        moved2.upstream.nodes[0].url = "http://10.0.0.9".into();
        let second = ServiceTable::build(
            &Snapshot::default().with_services(vec![weather2, moved2]),
            Some(&first),
        );
        let (w2, _) = second.find("/svc/weather").expect("weather");
        assert!(Arc::ptr_eq(&w.balancer, &w2.balancer));
        let (o1, _) = first.find("/svc/open").expect("open");
        let (o2, _) = second.find("/svc/open").expect("open");
        assert!(!Arc::ptr_eq(&o1.balancer, &o2.balancer));
    }
}
