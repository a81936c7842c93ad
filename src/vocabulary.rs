//! Closed vocabularies: the enums whose members are written as words in events, the store and
//! reports (user kinds, categories, statuses, name sources, ECH kinds...), each declared once
//! with [`vocabulary!`](crate::vocabulary).
//!
//! A declaration gives the enum, its one list of members (`ALL`, in declaration order: what
//! every report table, filter and test iterates, so a member added later is never left out of
//! one), each member's one name (`name`, and `from_name` back), `Display`, and serde as that
//! name. A leaf: it imports nothing of the crate.

#[doc(hidden)]
pub use serde;

/// Declares a closed vocabulary:
///
/// ```
/// lantern::vocabulary! {
///     /// How a thing is.
///     pub enum Shade {
///         /// Light.
///         Light = "light",
///         /// Dark.
///         Dark = "dark",
///     }
/// }
/// assert_eq!(Shade::ALL.map(Shade::name), ["light", "dark"]);
/// assert_eq!(Shade::from_name("dark"), Some(Shade::Dark));
/// ```
#[macro_export]
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// Every member's name, in declaration order.
            pub const NAMES: [&'static str; [$($text),+].len()] = [$($text),+];

            /// Its name in events, the store and reports.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The member of this name.
            pub fn from_name(name: &str) -> Option<$name> {
                match name {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl $crate::vocabulary::serde::Serialize for $name {
            fn serialize<S: $crate::vocabulary::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> $crate::vocabulary::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::vocabulary::serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as $crate::vocabulary::serde::Deserialize>::deserialize(d)?;
                $name::from_name(&text).ok_or_else(|| {
                    <D::Error as $crate::vocabulary::serde::de::Error>::unknown_variant(&text, &$name::NAMES)
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::vocabulary! {
        /// A test vocabulary.
        enum Shade {
            /// Light.
            Light = "light",
            /// Dark.
            Dark = "dark",
        }
    }

    #[test]
    fn names_go_both_ways_and_serde_uses_them() {
        for shade in Shade::ALL {
            assert_eq!(Shade::from_name(shade.name()), Some(shade));
        }
        assert_eq!(Shade::from_name("grey"), None);
        assert_eq!(serde_json::to_string(&Shade::Dark).unwrap(), r#""dark""#);
        let back: Shade = serde_json::from_str(r#""light""#).unwrap();
        assert_eq!(back, Shade::Light);
        let err = serde_json::from_str::<Shade>(r#""grey""#).unwrap_err();
        assert!(
            err.to_string().contains("expected `light` or `dark`"),
            "{err}"
        );
        assert_eq!(Shade::Light.to_string(), "light");
    }
}
