//! Notifications (Azora): what happens to a user (an application moving, a report being
//! handled, a word from staff, ...) reaches them as a notification, created in the transaction
//! of the change that caused it. Users list theirs (`notifications(filter: {unread})`), count the
//! unread ones, mark some or all read, and follow new ones live (`notificationAdded`), from any
//! instance. Staff and admins send SYSTEM notifications (`notifyUser`).

pub mod graphql;
pub mod service;

pub use service::NotificationService;
