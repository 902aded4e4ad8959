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
    /// Ring up items of the till's catalog with `--item SKU[×N]` (repeatable), a typed
    /// amount as a line of its own with `--amount`, and a tip with `--tip`: the lines, tax
    /// and tip are shown before the QR code and travel in the payment's metadata.
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
    /// Open, close or show this till's shift. Closing reconciles the shift's payments with
    /// Crypto.com Pay and stores its final report.
    Shift(ShiftArgs),
    /// The report of a day (all tills) or a shift: totals per currency, per till and per
    /// cashier, and every repair reconciliation made. A closed period shows its stored
    /// report.
    ///
    /// Exit status: 0 success, 1 error, 8 the printer failed (the report is kept; print it
    /// again), 9 reconciliation could not check everything (the report lists what).
    Report(ReportArgs),
    /// Print (or reprint) the receipt of a journaled payment, or a refund's slip; without
    /// a printer, show it here.
    ///
    /// Exit status: 0 printed or shown, 1 error, 8 the printer failed (print it again).
    Receipt(ReceiptArgs),
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
            Command::Shift(_) => "shift",
            Command::Report(_) => "report",
            Command::Receipt(_) => "receipt",
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
    /// The amount, as a cashier types it: 12.50, 12,50, 1 234.00. With --item or --tip it
    /// is a line of its own (taxed at the catalog's default rate).
    #[arg(long, required_unless_present = "items")]
    pub amount: Option<String>,
    /// An item of the till's catalog by SKU, with a quantity: latte, latte×2, latte*2,
    /// "latte x2", 2×latte. Repeat for more items.
    #[arg(long = "item", value_name = "SKU[×N]")]
    pub items: Vec<String>,
    /// The tip, before the payment is created: 15%, 12.5%, round (up to a whole unit),
    /// none, or an amount (2.50). Part of the charged amount, kept apart in the journal.
    #[arg(long, value_name = "15%|round|none|2.50")]
    pub tip: Option<String>,
    /// Shown to the customer on the checkout page (for a sale: instead of its summary,
    /// e.g. "2× Latte, Croissant").
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

#[derive(Debug, Args)]
pub struct ShiftArgs {
    #[command(subcommand)]
    pub command: ShiftCommand,
}

#[derive(Debug, Subcommand)]
pub enum ShiftCommand {
    /// Open a shift on this till (refused while one is open).
    Open(ShiftOpenArgs),
    /// Close this till's shift: reconcile, then store and show its report.
    Close(ShiftCloseArgs),
    /// Whether a shift is open, and its numbers so far (a report: a supervisor's PIN on a
    /// till with staff).
    Status(ShiftStatusArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ShiftStatusArgs {
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct ShiftOpenArgs {
    /// Who opens it, on a till without staff; with staff it is the person whose PIN is
    /// given.
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct ShiftCloseArgs {
    /// Who closes it, on a till without staff; with staff it is the person whose PIN is
    /// given (a supervisor's).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    #[command(flatten)]
    pub who: PinArg,
    /// Close without asking Crypto.com Pay (offline); the report says it is not reconciled.
    #[arg(long)]
    pub no_reconcile: bool,
    #[command(flatten)]
    pub print: PrintArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PrintArgs {
    /// Print it on the receipt printer (the settings' printer, or --printer).
    #[arg(long)]
    pub print: bool,
    /// The printer to use instead of the settings' one (tcp://HOST:PORT, /dev/usb/lp0, …).
    #[arg(long, value_name = "URL")]
    pub printer: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The local day (YYYY-MM-DD); today when omitted.
    #[arg(long, value_name = "YYYY-MM-DD", conflicts_with = "shift")]
    pub date: Option<String>,
    /// A shift's report instead of a day's.
    #[arg(long, value_name = "ID")]
    pub shift: Option<i64>,
    /// Write the report as CSV to stdout.
    #[arg(long)]
    pub csv: bool,
    /// Ask Crypto.com Pay about every payment of the period first, repair the journal,
    /// and store the result as the period's final (Z) report.
    #[arg(long)]
    pub reconcile: bool,
    #[command(flatten)]
    pub print: PrintArgs,
    /// Reports are a supervisor's on a till with staff.
    #[command(flatten)]
    pub who: PinArg,
}

#[derive(Debug, Clone, Args)]
pub struct ReceiptArgs {
    /// The payment's id.
    pub payment_id: String,
    /// The slip of this refund of the payment instead of the sale's receipt.
    #[arg(long, value_name = "REFUND_ID")]
    pub refund: Option<String>,
    /// The printer to use instead of the settings' one (tcp://HOST:PORT, /dev/usb/lp0, …).
    #[arg(long, value_name = "URL")]
    pub printer: Option<String>,
    /// Printing is a reprint: any cashier's PIN on a till with staff (showing needs none).
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
        assert!(
            matches!(cli.command, Command::Charge(ref c) if c.amount.as_deref() == Some("12.50"))
        );
    }

    #[test]
    fn a_charge_needs_an_amount_or_an_item() {
        assert!(Cli::try_parse_from(["paydesk-cli", "charge", "--tip", "15%"]).is_err());
        let cli = Cli::try_parse_from([
            "paydesk-cli",
            "charge",
            "--item",
            "latte×2",
            "--item",
            "croissant",
            "--tip",
            "15%",
        ])
        .unwrap();
        let Command::Charge(c) = cli.command else {
            panic!("not a charge")
        };
        assert_eq!(c.items, vec!["latte×2", "croissant"]);
        assert_eq!((c.amount, c.tip.as_deref()), (None, Some("15%")));
    }
}
