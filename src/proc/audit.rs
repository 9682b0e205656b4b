//! The audit login session and login uid that pam_loginuid sets at login.

/// The audit login session of /proc/WHO (pam_loginuid sets it at login; children inherit
/// it); None where unset or the kernel has no audit.
pub fn audit_session(who: &str) -> Option<u32> {
    parse_audit_id(&std::fs::read(format!("/proc/{who}/sessionid")).ok()?)
}

/// The login uid of /proc/WHO (pam_loginuid: the user who logged in); None where unset.
pub fn login_uid(who: &str) -> Option<u32> {
    parse_audit_id(&std::fs::read(format!("/proc/{who}/loginuid")).ok()?)
}

/// An audit ID as /proc/PID/sessionid and loginuid give it; None for unset (4294967295).
pub fn parse_audit_id(text: &[u8]) -> Option<u32> {
    std::str::from_utf8(text).ok()?.trim().parse::<u32>().ok().filter(|id| *id != u32::MAX)
}
