//! The public rendering entry point, as the CLI uses it.

mod report {
    use gate_eval::report::sample::sample_report;
    use gate_eval::report::{Format, RenderOptions, render};

    #[test]
    fn every_format_renders_through_the_dispatcher() {
        let report = sample_report();
        for format in Format::all() {
            let out = render(&report, format, RenderOptions { color: false });
            assert!(
                out.ends_with('\n'),
                "{} lacks a final newline",
                format.name()
            );
            assert!(out.lines().count() > 5, "{} is nearly empty", format.name());
            assert_eq!(Format::parse(format.name()), Some(format));
        }
        assert_eq!(Format::parse("xml"), None);
    }

    #[test]
    fn colour_only_reaches_the_human_format() {
        let report = sample_report();
        for format in Format::all() {
            let out = render(&report, format, RenderOptions { color: true });
            assert_eq!(
                out.contains('\x1b'),
                format == Format::Human,
                "{}",
                format.name()
            );
        }
    }

    #[test]
    fn machine_formats_parse() {
        let report = sample_report();
        for format in [Format::Json, Format::Sarif] {
            let out = render(&report, format, RenderOptions::default());
            let value: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert!(value.is_object(), "{}", format.name());
        }
    }
}
