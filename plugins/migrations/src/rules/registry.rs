//! The `registry!` macro: from one `module: Variant,` line per rule it
//! declares the rule's module, the [`RuleId`](super::RuleId) variant, the
//! lookup from id to [`Rule`](super::Rule) and, in tests, one test per
//! rule that runs the cases in the rule's module.

macro_rules! registry {
    ($($module:ident: $variant:ident,)*) => {
        $(pub(crate) mod $module;)*

        /// A rule, by name: the only way the crate refers to one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId {
            $($variant,)*
        }

        impl RuleId {
            /// Every rule, in documentation order.
            pub const ALL: &[RuleId] = &[$(RuleId::$variant,)*];

            /// The rule's metadata, classification and check.
            pub fn rule(self) -> &'static Rule {
                match self {
                    $(RuleId::$variant => &$module::RULE,)*
                }
            }

            /// The name of the rule's module.
            #[cfg(test)]
            fn module(self) -> &'static str {
                match self {
                    $(RuleId::$variant => stringify!($module),)*
                }
            }

            /// The rule's cases (TOML, see `cases.rs`).
            #[cfg(test)]
            fn cases(self) -> &'static str {
                match self {
                    $(RuleId::$variant => $module::CASES,)*
                }
            }
        }

        /// One test per rule: its cases.
        #[cfg(test)]
        mod rule_cases {
            $(
                #[test]
                fn $module() {
                    super::cases::run_rule(super::RuleId::$variant);
                }
            )*
        }
    };
}
