//! `gate plugin new NAME --lang rust|python|js [--dir D]`.

use std::path::PathBuf;

use gate_devkit::Language;

use crate::exit;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl From<Lang> for Language {
    fn from(lang: Lang) -> Language {
        match lang {
            Lang::Rust => Language::Rust,
            Lang::Python => Language::Python,
            Lang::Js => Language::Js,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plugin's name: lower-case kebab-case, the prefix of its check ids (`acme` → `acme.example`)
    pub name: String,
    /// The language to write it in
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// Where to write the project (new or empty) [default: ./NAME]
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn run(args: Args) -> u8 {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    match gate_devkit::project::new(&args.name, args.lang.into(), &dir) {
        Ok(()) => {
            let shown = dir.display();
            println!(
                "wrote plugin `{}` ({}) in {shown}\n\nnext:\n  cd {shown}\n  gate plugin build\n  gate plugin test\n  gate evaluate --policy policy-snippet.toml",
                args.name,
                Language::from(args.lang),
            );
            exit::PASS
        }
        Err(e) => super::build::report(&e),
    }
}
