//! The command line itself: every subcommand and option, as clap parses them. Nothing
//! here runs anything; `main` hands the parsed [`Cli`] to the commands in `cmd/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use paydesk_core::secrets::Secret;
use paydesk_core::staff::Role;

/// PayDesk without a screen: take and follow payments, check a till, provision it.
///
/// Settings come from the config file, then PAYDESK_* environment variables, then these
/// flags (later wins). Keys come from PAYDESK_SECRET_KEY / PAYDESK_TERMINAL_KEY, else the
/// OS keychain.
#[derive(Debug, Parser)]
#[command(name = "paydesk-cli", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands (they may come before or after the subcommand).
#[derive(Debug, Clone, Default, Args)]
pub struct Global {
    /// The payment API (Crypto.com Pay, or a sandbox's `/api`).
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// The PayDesk relay that pushes payment updates to this till.
    #[arg(long, global = true, value_name = "URL")]
    pub relay_url: Option<String>,
    /// This till's name (journaled with every charge).
    #[arg(long, global = true, value_name = "NAME")]
    pub terminal_name: Option<String>,
    /// The currency of amounts typed without one (ISO code, e.g. EUR).
    #[arg(long, global = true, value_name = "CODE")]
    pub currency: Option<String>,
    /// Read settings from this file instead of the OS config file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Machine-readable output: JSON lines (one object per event, each with a "type").
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a payment, show its QR code and follow it until it ends.
    ///
    /// Exit status: 0 paid, 3 expired, 4 cancelled, 1 error, 130 interrupted (the payment
    /// stays pending and journaled; follow it with `watch`).
    Charge(ChargeArgs),
    /// Follow an existing payment until it ends (same output and exit status as charge).
    Watch(WatchArgs),
    /// Cancel a pending payment.
    Cancel(PaymentArg),
    /// Refund a paid payment, in full or in part.
    Refund(RefundArgs),
    /// The payments of one day from this till's journal, with totals.
    History(HistoryArgs),
    /// Check the API key, clock, polling path, relay, heartbeat and keychain.
    Doctor(DoctorArgs),
    /// Apply a store provisioning file: keys to the OS keychain, the rest to the config.
    Provision(ProvisionArgs),
    /// Run the sandbox and the relay in this process and point the command at them.
    Demo(DemoArgs),
    /// The till's staff: add, list, remove people and set their PINs (the owner's PIN).
    #[command(subcommand)]
    Staff(StaffCommand),
}

impl Command {
    /// The subcommand's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Charge(_) => "charge",
            Command::Watch(_) => "watch",
            Command::Cancel(_) => "cancel",
            Command::Refund(_) => "refund",
            Command::History(_) => "history",
            Command::Doctor(_) => "doctor",
            Command::Provision(_) => "provision",
            Command::Demo(_) => "demo",
            Command::Staff(_) => "staff",
        }
    }
}

/// Who is acting, for a gated command. Without `--pin` the PIN comes from PAYDESK_PIN,
/// else it is asked on the terminal (not echoed); a till without staff asks for none.
#[derive(Debug, Clone, Default, Args)]
pub struct PinArg {
    /// Your staff PIN (4-6 digits). Other users can see command lines: prefer
    /// PAYDESK_PIN or typing it when asked.
    #[arg(long, value_name = "PIN", value_parser = secret)]
    pub pin: Option<Secret>,
}

/// Parses a flag's value straight into a [`Secret`], so it never sits in a `String`
/// that a `Debug` could print.
fn secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s))
}

#[derive(Debug, Clone, Args)]
pub struct ChargeArgs {
    /// The amount, as a cashier types it: 12.50, 12,50, 1 234.00.
    #[arg(long)]
    pub amount: String,
    /// Shown to the customer on the checkout page.
    #[arg(long)]
    pub description: Option<String>,
    /// Your own reference for this sale (unique); one is generated when omitted.
    #[arg(long)]
    pub order_id: Option<String>,
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// The payment's id, as `charge` printed it.
    pub payment_id: String,
    /// Used only if you type `c` to cancel while watching.
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct PaymentArg {
    /// The payment's id.
    pub payment_id: String,
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct RefundArgs {
    /// The payment's id.
    pub payment_id: String,
    /// How much to refund, in the payment's currency; everything still refundable when
    /// omitted.
    #[arg(long)]
    pub amount: Option<String>,
    /// Why (kept with the refund at Crypto.com Pay).
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The local day to show (YYYY-MM-DD); today when omitted.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Write the day's payments as CSV to stdout instead of a table (an export: the
    /// owner's PIN on a till with staff).
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Also write a support bundle (.tar.gz: versions, config without secrets, the
    /// doctor table, recent log lines) to this file.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// How long to wait for the relay's hello and then its first heartbeat.
    #[arg(long, value_name = "SECONDS", default_value_t = 40)]
    pub relay_wait: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ProvisionArgs {
    /// The provisioning file (TOML; `chmod 600` when it holds keys).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long a demo payment stays payable.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub time_window: u64,
    #[command(subcommand)]
    pub command: DemoCommand,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Charge against the demo shop; `--pay-after` makes the demo customer pay.
    Charge(DemoChargeArgs),
    /// Run doctor against the demo shop.
    Doctor(DemoDoctorArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DemoChargeArgs {
    #[command(flatten)]
    pub charge: ChargeArgs,
    /// The demo customer pays this many seconds after the payment is created; without it,
    /// pay by opening the printed checkout URL, or let it expire.
    #[arg(long, value_name = "SECONDS")]
    pub pay_after: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a person. On a till without staff the first person is its owner (`--role
    /// owner`), and only their new PIN is asked.
    Add(StaffAddArgs),
    /// Everyone on the staff, with their role and any running lockout.
    List(StaffListArgs),
    /// Take a person off the staff; their PIN stops working at once.
    Remove(StaffRemoveArgs),
    /// Give a person a new PIN (it also lifts a lockout).
    SetPin(StaffSetPinArgs),
}

#[derive(Debug, Clone, Args)]
pub struct StaffAddArgs {
    /// Their name as receipts and History show it.
    pub name: String,
    /// cashier, supervisor or owner.
    #[arg(long, default_value = "cashier", value_parser = role)]
    pub role: Role,
    #[command(flatten)]
    pub new_pin: NewPinArg,
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct StaffListArgs {
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct StaffRemoveArgs {
    /// The person's name (any case).
    pub name: String,
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct StaffSetPinArgs {
    /// The person's name (any case).
    pub name: String,
    #[command(flatten)]
    pub new_pin: NewPinArg,
    #[command(flatten)]
    pub who: PinArg,
}

/// The PIN a person is given. Without `--new-pin` it comes from PAYDESK_NEW_PIN, else it
/// is asked on the terminal twice.
#[derive(Debug, Clone, Default, Args)]
pub struct NewPinArg {
    /// Their new PIN (4-6 digits, nobody else's); prefer PAYDESK_NEW_PIN or typing it.
    #[arg(long, value_name = "PIN", value_parser = secret)]
    pub new_pin: Option<Secret>,
}

fn role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: paydesk_core::staff::UnknownName| e.to_string())
}

#[derive(Debug, Clone, Args)]
pub struct DemoDoctorArgs {
    /// How long to wait for the relay's hello and then its first heartbeat.
    #[arg(long, value_name = "SECONDS", default_value_t = 40)]
    pub relay_wait: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_may_follow_the_subcommand() {
        let cli = Cli::try_parse_from([
            "paydesk-cli",
            "charge",
            "--amount",
            "12.50",
            "--currency",
            "EUR",
            "--json",
        ])
        .unwrap();
        assert_eq!(cli.global.currency.as_deref(), Some("EUR"));
        assert!(cli.global.json);
        assert!(matches!(cli.command, Command::Charge(ref c) if c.amount == "12.50"));
    }
}
