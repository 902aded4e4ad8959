//! Generates the Tauri context, and the ACL permissions (`allow-<command>`) for the app's
//! own commands so each window's capability grants exactly the commands it uses.

const COMMANDS: &[&str] = &[
    "app_snapshot",
    "quote_amount",
    "charge",
    "cancel_payment",
    "check_payment",
    "simulate_payment",
    "close_payment",
    "history",
    "search_payments",
    "refund_payment",
    "export_csv",
    "get_settings",
    "save_settings",
    "test_connection",
    "open_customer_display",
    "list_monitors",
    "sign_in",
    "lock_till",
    "touch",
    "get_catalog",
    "save_catalog",
    "sale_setup",
    "cart_add_item",
    "cart_add_amount",
    "cart_set_quantity",
    "cart_clear",
    "start_sale",
    "charge_decided",
    "tip_cashier",
    "tip_skip",
    "tip_back",
    "choose_tip",
    // The counter's day (src-tauri/src/day.rs).
    "printing_status",
    "receipt_view",
    "print_receipt",
    "day_status",
    "open_shift",
    "close_shift",
    "show_report",
    "close_day",
    "print_report",
    "save_report_csv",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(manifest);
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}
