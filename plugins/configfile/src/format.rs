//! Which format a config file is written in.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    Toml,
    Env,
    Properties,
    Ini,
}

impl Format {
    pub const NAMES: &'static str = "json, yaml, toml, env, properties, ini";

    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "json" => Format::Json,
            "yaml" | "yml" => Format::Yaml,
            "toml" => Format::Toml,
            "env" | "dotenv" => Format::Env,
            "properties" => Format::Properties,
            "ini" | "cfg" | "conf" => Format::Ini,
            _ => return None,
        })
    }

    /// The format a file name implies: its extension, or `.env` / `.env.<stage>`.
    pub fn detect(path: &str) -> Option<Format> {
        let name = path
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(path)
            .to_ascii_lowercase();
        if name == ".env" || name.starts_with(".env.") {
            return Some(Format::Env);
        }
        let ext = name.rsplit_once('.')?.1;
        Format::from_name(ext)
    }

    /// The structured format (JSON, YAML or TOML) a file's extension names.
    pub fn detect_structured(path: &str) -> Option<Format> {
        Format::detect(path).filter(|f| !f.is_line_based())
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
            Format::Toml => "TOML",
            Format::Env => ".env",
            Format::Properties => ".properties",
            Format::Ini => "INI",
        }
    }

    /// `.env`, `.properties` and INI: read line by line, not parsed into a tree.
    pub fn is_line_based(self) -> bool {
        matches!(self, Format::Env | Format::Properties | Format::Ini)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_from_names() {
        assert_eq!(Format::detect("config/app.yaml"), Some(Format::Yaml));
        assert_eq!(Format::detect("app.YML"), Some(Format::Yaml));
        assert_eq!(Format::detect("Cargo.toml"), Some(Format::Toml));
        assert_eq!(Format::detect("a.json"), Some(Format::Json));
        assert_eq!(Format::detect("deploy/.env"), Some(Format::Env));
        assert_eq!(Format::detect(".env.production"), Some(Format::Env));
        assert_eq!(Format::detect("prod.env"), Some(Format::Env));
        assert_eq!(
            Format::detect("application.properties"),
            Some(Format::Properties)
        );
        assert_eq!(Format::detect("logging.ini"), Some(Format::Ini));
        assert_eq!(Format::detect("README"), None);
        assert_eq!(Format::detect("x.xml"), None);
    }

    #[test]
    fn structured_formats_by_extension() {
        assert_eq!(Format::detect_structured("a/b.JSON"), Some(Format::Json));
        assert_eq!(Format::detect_structured("x.yml"), Some(Format::Yaml));
        assert_eq!(Format::detect_structured("Cargo.toml"), Some(Format::Toml));
        assert_eq!(Format::detect_structured("app.ini"), None);
        assert_eq!(Format::detect_structured(".env"), None);
        assert_eq!(Format::detect_structured("Makefile"), None);
    }
}
