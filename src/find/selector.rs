//! `--session`: the selectors as given, and the scope each resolves to on this host.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::display_name::DisplayName;
use crate::find::cgroup::{Cgroup, Mounts, login_cgroup};
use crate::proc::ReadError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--session display needs a display: give --display or set DISPLAY")]
    NoDisplay,
    #[error("--session display: '{0}' is not a display name (e.g. :0, :5.0, localhost:10.0)")]
    BadDisplay(String),
    #[error("--session env:{0}: xexit's own environment has no {0} (or it is empty); give env:{0}=VALUE")]
    EnvUnset(String),
    #[error("--session {0}: no cgroup v2 hierarchy is mounted (no cgroup2 line in /proc/mounts)")]
    NoHierarchy(Selector),
    #[error("--session {selector}: no such cgroup: {dir} does not exist")]
    NoSuchCgroup { selector: Selector, dir: PathBuf },
    #[error("--session {selector}: {path} is the root cgroup, which holds the whole system")]
    RootCgroup { selector: Selector, path: String },
    #[error("--session cgroup: xexit's own cgroup could not be found in /proc/self/cgroup")]
    NoOwnCgroup,
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// `--session`: how the session is told apart, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Auto,
    Cgroup,
    CgroupPath(String),
    Env { name: String, value: Option<String> },
    Display,
    User,
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "auto" => Selector::Auto,
            "cgroup" => Selector::Cgroup,
            "display" => Selector::Display,
            "user" => Selector::User,
            _ => {
                if let Some(path) = text.strip_prefix("cgroup:") {
                    if path.is_empty() {
                        return Err("'cgroup:' needs a PATH, e.g. cgroup:/user.slice/user-1000.slice".into());
                    }
                    Selector::CgroupPath(normal_cgroup_path(path).map_err(|why| format!("'{text}': {why}"))?)
                } else if let Some(spec) = text.strip_prefix("env:") {
                    let (name, value) = match spec.split_once('=') {
                        Some((name, value)) => (name, Some(value)),
                        None => (spec, None),
                    };
                    if name.is_empty() {
                        return Err("'env:' needs a variable name, e.g. env:LTSP_CLIENT_HOSTNAME".into());
                    }
                    if value == Some("") {
                        return Err(format!("'{text}' has an empty value: give env:{name}=VALUE or env:{name}"));
                    }
                    Selector::Env { name: name.to_string(), value: value.map(str::to_string) }
                } else {
                    return Err(format!(
                        "unknown selector '{text}': use auto, cgroup, cgroup:PATH, env:NAME, env:NAME=VALUE, display or user"
                    ));
                }
            }
        })
    }
}

/// A cgroup path as the kernel writes it in /proc/PID/cgroup: `/` and names, without `.`,
/// empty components or a trailing `/`. `..` is refused, so the path never leaves what it names.
fn normal_cgroup_path(path: &str) -> Result<String, String> {
    let mut normal = String::new();
    for component in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if component == ".." {
            return Err("'..' is not allowed in a cgroup path: name the cgroup itself".into());
        }
        normal.push('/');
        normal.push_str(component);
    }
    Ok(if normal.is_empty() { "/".into() } else { normal })
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Auto => f.write_str("auto"),
            Selector::Cgroup => f.write_str("cgroup"),
            Selector::CgroupPath(path) => write!(f, "cgroup:{path}"),
            Selector::Env { name, value: Some(value) } => write!(f, "env:{name}={value}"),
            Selector::Env { name, value: None } => write!(f, "env:{name}"),
            Selector::Display => f.write_str("display"),
            Selector::User => f.write_str("user"),
        }
    }
}

/// The session as resolved: what its processes have in common.
#[derive(Clone, Debug)]
pub enum Scope {
    Cgroup(Cgroup),
    Env {
        name: String,
        value: String,
    },
    /// DISPLAY names the same server as `display`, however it is spelt.
    Display {
        display: DisplayName,
        given: String,
    },
    User,
}

impl Scope {
    /// The environment variable that tells the session apart, for env and display scopes.
    pub fn tag_name(&self) -> Option<&str> {
        match self {
            Scope::Env { name, .. } => Some(name),
            Scope::Display { .. } => Some("DISPLAY"),
            Scope::Cgroup(_) | Scope::User => None,
        }
    }

    pub fn tag_matches(&self, found: &[u8]) -> bool {
        match self {
            Scope::Env { value, .. } => found == value.as_bytes(),
            Scope::Display { display, .. } => {
                std::str::from_utf8(found).ok().and_then(DisplayName::parse).as_ref() == Some(display)
            }
            Scope::Cgroup(_) | Scope::User => false,
        }
    }
}

/// The selector as resolved, for logs and XEXIT_SESSION.
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Cgroup(cgroup) => write!(f, "cgroup:{}", cgroup.path),
            Scope::Env { name, value } => write!(f, "env:{name}={value}"),
            Scope::Display { given, .. } => write!(f, "display={given}"),
            Scope::User => f.write_str("user"),
        }
    }
}

/// Resolves the selector on this host; `display` is `--display`, or DISPLAY.
pub fn resolve_scope(selector: &Selector, display: Option<&str>) -> Result<Scope, Error> {
    let display_scope = || -> Result<Scope, Error> {
        let given = display.ok_or(Error::NoDisplay)?;
        let name = DisplayName::parse(given).ok_or_else(|| Error::BadDisplay(given.to_string()))?;
        Ok(Scope::Display { display: name, given: given.to_string() })
    };
    Ok(match selector {
        Selector::Auto => {
            if let Some(cgroup) = login_cgroup()? {
                let id =
                    std::env::var("XDG_SESSION_ID").map(|id| format!(" (XDG_SESSION_ID={id})")).unwrap_or_default();
                log::info!(
                    "session: xexit runs in the login session's cgroup {}{id}, so cgroup:{}",
                    cgroup.path,
                    cgroup.path
                );
                Scope::Cgroup(cgroup)
            } else if let Some(value) = std::env::var("LTSP_CLIENT_HOSTNAME").ok().filter(|v| !v.is_empty()) {
                log::info!("session: LTSP_CLIENT_HOSTNAME is set, so env:LTSP_CLIENT_HOSTNAME={value}");
                Scope::Env { name: "LTSP_CLIENT_HOSTNAME".into(), value }
            } else {
                let scope = display_scope()?;
                let given = display.unwrap_or_default();
                log::info!("session: no login session cgroup and no LTSP_CLIENT_HOSTNAME, so display {given}");
                scope
            }
        }
        Selector::Cgroup => {
            let cgroup = Mounts::read()?.own_cgroup()?.ok_or(Error::NoOwnCgroup)?;
            checked_cgroup(cgroup, selector)?
        }
        Selector::CgroupPath(path) => {
            let mount = Mounts::read()?.unified.ok_or_else(|| Error::NoHierarchy(selector.clone()))?;
            checked_cgroup(Cgroup::unified(mount, path.clone()), selector)?
        }
        Selector::Env { name, value: Some(value) } => Scope::Env { name: name.clone(), value: value.clone() },
        Selector::Env { name, value: None } => match std::env::var(name).ok().filter(|v| !v.is_empty()) {
            Some(value) => Scope::Env { name: name.clone(), value },
            None => return Err(Error::EnvUnset(name.clone())),
        },
        Selector::Display => display_scope()?,
        Selector::User => Scope::User,
    })
}

fn checked_cgroup(cgroup: Cgroup, selector: &Selector) -> Result<Scope, Error> {
    if cgroup.path == "/" {
        return Err(Error::RootCgroup { selector: selector.clone(), path: cgroup.path });
    }
    // cgroupfs has no symlinks; a symlink here is not the hierarchy's, and is not followed.
    if !std::fs::symlink_metadata(cgroup.dir()).is_ok_and(|meta| meta.is_dir()) {
        return Err(Error::NoSuchCgroup { selector: selector.clone(), dir: cgroup.dir() });
    }
    Ok(Scope::Cgroup(cgroup))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_refuse_what_they_should() {
        assert_eq!("auto".parse(), Ok(Selector::Auto));
        assert_eq!("cgroup:user.slice/x/".parse(), Ok(Selector::CgroupPath("/user.slice/x".into())));
        assert_eq!(
            "env:LTSP_CLIENT_HOSTNAME=ws01".parse(),
            Ok(Selector::Env { name: "LTSP_CLIENT_HOSTNAME".into(), value: Some("ws01".into()) })
        );
        assert_eq!("env:A=b=c".parse(), Ok(Selector::Env { name: "A".into(), value: Some("b=c".into()) }));
        assert!("env:".parse::<Selector>().unwrap_err().contains("needs a variable name"));
        assert!("env:=x".parse::<Selector>().unwrap_err().contains("needs a variable name"));
        assert!("env:A=".parse::<Selector>().unwrap_err().contains("empty value"));
        assert!("cgroup:".parse::<Selector>().unwrap_err().contains("needs a PATH"));
        for spelling in ["/p/./s", "/p//s", "p/s/", "//p/s/.", "./p/s"] {
            let parsed = format!("cgroup:{spelling}").parse::<Selector>();
            assert_eq!(parsed, Ok(Selector::CgroupPath("/p/s".into())), "{spelling}");
        }
        for escape in ["/p/s/..", "/p/s/../s", "/../p", ".."] {
            let refused = format!("cgroup:{escape}").parse::<Selector>().unwrap_err();
            assert!(refused.contains("'..' is not allowed"), "{escape}: {refused}");
        }
        assert_eq!("cgroup:/./".parse(), Ok(Selector::CgroupPath("/".into())));
        assert!("bogus".parse::<Selector>().unwrap_err().contains("unknown selector 'bogus'"));
    }

    #[test]
    fn selectors_print_as_they_parse() {
        for text in ["auto", "cgroup", "cgroup:/a/b", "env:TAG", "env:TAG=ws01", "display", "user"] {
            assert_eq!(text.parse::<Selector>().unwrap().to_string(), text);
        }
    }
}
