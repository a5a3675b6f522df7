//! Wire vocabularies declared once. Each word of an enum the API, the ledger or the UI spells
//! (error codes, stages, statuses, event types, catalog resources) is written in one line:
//! its variant, its wire spelling and, where it has one, a fact about it (an error code's HTTP
//! status). The macro derives the rest — serde's spelling, `ALL`, `as_str`, `parse`, `Display`
//! — so nothing is listed twice and nothing is hand-sized. The UI and the SDK read the same
//! words from the generated bindings and `openapi.json`.
//!
//! ```
//! figur_engine::vocabulary! {
//!     /// A fruit.
//!     pub enum Fruit { fn calories -> u32;
//!         Apple = "apple" => 52,
//!         Pear = "pear" => 57,
//!     }
//! }
//! assert_eq!(Fruit::parse("pear"), Some(Fruit::Pear));
//! assert_eq!((Fruit::Apple.as_str(), Fruit::Apple.calories()), ("apple", 52));
//! assert_eq!(Fruit::ALL.len(), 2);
//! ```

/// Declares a wire vocabulary; see the [module](self) docs.
#[macro_export]
macro_rules! vocabulary {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident { fn $fact:ident -> $fact_ty:ty;
            $( $(#[$vattr:meta])* $variant:ident = $wire:tt => $value:expr ),+ $(,)?
        }
    ) => {
        $crate::vocabulary! { $(#[$attr])* $vis enum $name { $( $(#[$vattr])* $variant = $wire ),+ } }
        impl $name {
            pub const fn $fact(self) -> $fact_ty {
                match self { $( $name::$variant => $value ),+ }
            }
        }
    };
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vattr:meta])* $variant:ident = $wire:tt ),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vattr])* #[serde(rename = $wire)] $variant, )+
        }
        impl $name {
            /// Every word, in the order declared.
            pub const ALL: &'static [$name] = &[$( $name::$variant ),+];
            /// The word as the wire spells it.
            pub const fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $wire ),+ }
            }
            /// The word a wire spelling names, if any.
            pub fn parse(word: &str) -> Option<Self> {
                match word { $( $wire => Some($name::$variant), )+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
