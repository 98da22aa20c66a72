//! `vidgate models`: the model catalog (built in, or with an operator's file over it), and
//! `check`, which compares it with the
//! official SDK's documentation (`models.py` of `tencentcloud-sdk-python-vod`) and names
//! every model version, scene type and usage specification the catalog lacks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use vidgate_domain::models::format::CatalogFile;
use vidgate_domain::models::sdk::{SdkCatalog, drift};
use vidgate_domain::models::{Catalog, Origin};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Exit non-zero, naming each difference, when the SDK lists something the catalog lacks.
    Check {
        /// The SDK's `tencentcloud/vod/v20180717/models.py` (pip show -f
        /// tencentcloud-sdk-python-vod tells where it is).
        #[arg(long)]
        sdk: PathBuf,
        /// The operator's catalog file (`rules.catalog`) to check laid over the built-in one.
        #[arg(long)]
        catalog: Option<PathBuf>,
    },
}

pub fn run(command: ModelsCommand) -> ExitCode {
    match command {
        ModelsCommand::Check { sdk, catalog: file } => {
            let ours = match file.as_deref().map(CatalogFile::read).transpose() {
                Ok(None) => Catalog::built_in().clone(),
                Ok(Some(f)) => match Catalog::built_in().overlay(&f, Origin::Operator) {
                    Ok(c) => c,
                    Err(e) => return super::fail(format!("the catalog file: {e}")),
                },
                Err(e) => return super::fail(e),
            };
            let text = match std::fs::read_to_string(&sdk) {
                Ok(t) => t,
                Err(e) => return super::fail(format!("cannot read {}: {e}", sdk.display())),
            };
            let catalog = match SdkCatalog::parse(&text) {
                Ok(c) => c,
                Err(e) => return super::fail(format!("{}: {e}", sdk.display())),
            };
            let missing = drift(&catalog, &ours);
            let versions: usize = catalog.versions.values().map(Vec::len).sum();
            if missing.is_empty() {
                println!(
                    "the catalog has every model version ({versions}), scene type and usage specification ({}) the SDK lists",
                    catalog.specifications.len()
                );
                return ExitCode::SUCCESS;
            }
            eprintln!("the SDK lists {} thing(s) the catalog lacks:", missing.len());
            for m in &missing {
                eprintln!("  {m}");
            }
            ExitCode::FAILURE
        }
    }
}
