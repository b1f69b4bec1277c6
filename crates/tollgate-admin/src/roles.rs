//! Console roles and what each may do on the admin API, decided in one place (the
//! [`crate::auth::require_admin`] middleware) from the request's method and route, so
//! a new route is covered without its handler doing anything.

use std::fmt;
use std::str::FromStr;

use http::Method;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A console user's role (PRODUCT.md, "Users, roles, audit").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, users included. The admin token acts as this role.
    Admin,
    /// Every resource, but not users.
    Operator,
    /// Read only.
    Viewer,
    /// The developer portal only, bound to one consumer: nothing under `/admin/v1`.
    Developer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::Viewer, Role::Developer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
            Role::Developer => "developer",
        }
    }

    /// Whether this role may make a request of this kind.
    pub fn may(self, access: Access) -> bool {
        match access {
            Access::Session => true,
            Access::Read => matches!(self, Role::Admin | Role::Operator | Role::Viewer),
            Access::Write => matches!(self, Role::Admin | Role::Operator),
            Access::Users => self == Role::Admin,
            Access::Audit => matches!(self, Role::Admin | Role::Operator),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name the store holds but this build does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// What an admin request does, as far as roles are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading or ending one's own session: any signed-in user.
    Session,
    /// `GET` / `HEAD` on a resource: viewer and up.
    Read,
    /// Any other method on a resource: operator and up.
    Write,
    /// Anything under `/admin/v1/users`: admin only, reads included (the user list is
    /// who may do what).
    Users,
    /// Reading the audit log (`/admin/v1/audit`): operator and up. It shows every
    /// change with its before and after, more than a viewer sees.
    Audit,
}

impl Access {
    /// Classifies a request by method and route template (axum's `MatchedPath`, e.g.
    /// `/admin/v1/users/{username}`), so that no spelling of the URI can dodge it.
    pub fn of(method: &Method, route: &str) -> Access {
        if route == "/admin/v1/logout" || route == "/admin/v1/session" {
            Access::Session
        } else if route == "/admin/v1/users" || route.starts_with("/admin/v1/users/") {
            Access::Users
        } else if route == "/admin/v1/audit" {
            Access::Audit
        } else if method == Method::GET || method == Method::HEAD {
            Access::Read
        } else {
            Access::Write
        }
    }

    /// Who may do it, for the 403 message.
    pub fn needs(self) -> &'static str {
        match self {
            Access::Session => "a session",
            Access::Read => "the viewer, operator or admin role",
            Access::Write => "the operator or admin role",
            Access::Users => "the admin role",
            Access::Audit => "the operator or admin role",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_gets_exactly_its_rights() {
        let get = Access::of(&Method::GET, "/admin/v1/consumers");
        let head = Access::of(&Method::HEAD, "/admin/v1/consumers/{name}");
        let post = Access::of(&Method::POST, "/admin/v1/consumers/{name}/credits");
        let delete = Access::of(&Method::DELETE, "/admin/v1/providers/{name}");
        let users = Access::of(&Method::GET, "/admin/v1/users");
        let user = Access::of(&Method::PUT, "/admin/v1/users/{username}");
        let logout = Access::of(&Method::POST, "/admin/v1/logout");
        assert_eq!((get, head), (Access::Read, Access::Read));
        assert_eq!((post, delete), (Access::Write, Access::Write));
        assert_eq!((users, user), (Access::Users, Access::Users));
        assert_eq!(logout, Access::Session);
        let audit = Access::of(&Method::GET, "/admin/v1/audit");
        assert_eq!(audit, Access::Audit);
        assert!(Role::Admin.may(audit) && Role::Operator.may(audit));
        assert!(!Role::Viewer.may(audit) && !Role::Developer.may(audit));

        let table = [
            (Role::Admin, [true, true, true, true]),
            (Role::Operator, [true, true, false, true]),
            (Role::Viewer, [true, false, false, true]),
            (Role::Developer, [false, false, false, true]),
        ];
        for (role, rights) in table {
            let got = [
                role.may(Access::Read),
                role.may(Access::Write),
                role.may(Access::Users),
                role.may(Access::Session),
            ];
            assert_eq!(got, rights, "{role}");
        }
    }

    #[test]
    fn roles_round_trip_and_unknown_ones_are_refused() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().ok(), Some(r));
        }
        assert!("superuser".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }
}
