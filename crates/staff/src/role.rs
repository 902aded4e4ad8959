//! Roles and actions, and the one table that says who may do what.
//!
//! Every permission question in PayDesk — the app's buttons, the CLI's gated commands, the
//! core's own checks — ends in [`Role::may`], which reads [`Action::least_role`]. Roles are
//! nested (a supervisor may do all a cashier may, the owner all a supervisor may), so the
//! table is one column: the least role each action needs. Whether a cancel is of the
//! cashier's own payment is decided once, in the gate
//! ([`Context`](crate::Context)), before this table is read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a person is at this till. Ordered: `Cashier < Supervisor < Owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Cashier,
    Supervisor,
    Owner,
}

/// Something a person does at the till that a role may or may not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Create a payment.
    Charge,
    /// Cancel a pending payment this person created.
    CancelOwn,
    /// Cancel a pending payment someone else created (or whose creator is unknown).
    CancelAny,
    /// Print a receipt again.
    Reprint,
    /// Start a shift.
    OpenShift,
    Refund,
    /// See the shift and day reports.
    Report,
    /// End a shift (and print its Z report).
    CloseShift,
    /// Lift another person's PIN lockout before it runs out.
    Unlock,
    Settings,
    /// Change the Crypto.com Pay keys or the relay's terminal key.
    Keys,
    /// Switch between demo, test and live.
    Mode,
    /// Export the day's payments.
    Export,
    /// Add, remove, rename people, change their role or PIN.
    Staff,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Cashier, Role::Supervisor, Role::Owner];

    /// Whether someone with this role may take `action`: the one rule.
    pub fn may(self, action: Action) -> bool {
        self >= action.least_role()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Supervisor => "supervisor",
            Role::Owner => "owner",
        }
    }

    /// "a supervisor", "the owner": how a denial names who can help.
    pub(crate) fn with_article(self) -> &'static str {
        match self {
            Role::Cashier => "a cashier",
            Role::Supervisor => "a supervisor",
            Role::Owner => "the owner",
        }
    }

    /// How a denial asks for that person: "Ask one", "Ask them".
    pub(crate) fn ask(self) -> &'static str {
        match self {
            Role::Cashier | Role::Supervisor => "Ask one",
            Role::Owner => "Ask them",
        }
    }
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::Charge,
        Action::CancelOwn,
        Action::CancelAny,
        Action::Reprint,
        Action::OpenShift,
        Action::Refund,
        Action::Report,
        Action::CloseShift,
        Action::Unlock,
        Action::Settings,
        Action::Keys,
        Action::Mode,
        Action::Export,
        Action::Staff,
    ];

    /// The table: the least role that may take this action.
    pub const fn least_role(self) -> Role {
        match self {
            Action::Charge | Action::CancelOwn | Action::Reprint | Action::OpenShift => {
                Role::Cashier
            }
            Action::CancelAny
            | Action::Refund
            | Action::Report
            | Action::CloseShift
            | Action::Unlock => Role::Supervisor,
            Action::Settings | Action::Keys | Action::Mode | Action::Export | Action::Staff => {
                Role::Owner
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Charge => "charge",
            Action::CancelOwn => "cancel-own",
            Action::CancelAny => "cancel-any",
            Action::Reprint => "reprint",
            Action::OpenShift => "open-shift",
            Action::Refund => "refund",
            Action::Report => "report",
            Action::CloseShift => "close-shift",
            Action::Unlock => "unlock",
            Action::Settings => "settings",
            Action::Keys => "keys",
            Action::Mode => "mode",
            Action::Export => "export",
            Action::Staff => "staff",
        }
    }

    /// The action in words that finish "Only a supervisor can …".
    pub fn phrase(self) -> &'static str {
        match self {
            Action::Charge => "take a payment",
            Action::CancelOwn => "cancel a payment",
            Action::CancelAny => "cancel another cashier's payment",
            Action::Reprint => "reprint a receipt",
            Action::OpenShift => "open a shift",
            Action::Refund => "refund",
            Action::Report => "see the reports",
            Action::CloseShift => "close the shift",
            Action::Unlock => "lift a PIN lockout",
            Action::Settings => "change the settings",
            Action::Keys => "change the keys",
            Action::Mode => "switch between demo, test and live",
            Action::Export => "export the day",
            Action::Staff => "manage staff",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role or action name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not {what} (one of: {choices})")]
pub struct UnknownName {
    given: String,
    what: &'static str,
    choices: String,
}

impl FromStr for Role {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName {
                given: s.to_owned(),
                what: "a role",
                choices: Role::ALL.map(Role::as_str).join(", "),
            })
    }
}

impl FromStr for Action {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName {
                given: s.to_owned(),
                what: "an action",
                choices: Action::ALL.map(Action::as_str).join(", "),
            })
    }
}
