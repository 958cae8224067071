//! Collects every mistake found in one item, so they are all reported together.

use proc_macro2::TokenStream;
use quote::ToTokens;
use std::fmt::Display;

/// The mistakes found so far, each spanned on the user's tokens.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    /// Records a mistake at `tokens`.
    pub fn at(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.0.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error that syn produced.
    pub fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    /// How many mistakes were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether any mistake was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every mistake as `compile_error!` invocations.
    pub fn to_compile_errors(&self) -> TokenStream {
        self.0.iter().map(syn::Error::to_compile_error).collect()
    }
}

/// Tokens as a person writes them (`&mut SVector<f32, 2>`), for messages: `to_string` spaces
/// every token (`& mut SVector < f32, 2 >`).
pub fn tidy(tokens: impl ToTokens) -> String {
    let mut s = tokens.to_token_stream().to_string();
    for (spaced, tight) in [
        ("& ", "&"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ::", "::"),
        (":: ", "::"),
        (" :", ":"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
        (" ,", ","),
    ] {
        s = s.replace(spaced, tight);
    }
    s
}

/// Parses a `crate = path` argument (`#[cell(crate = rnn_core)]`, `#[nested(crate = ...)]`).
pub fn parse_crate_arg(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Option<syn::Path>> {
    if meta.path.is_ident("crate") {
        let value = meta.value()?;
        let path = if value.peek(syn::LitStr) {
            value.parse::<syn::LitStr>()?.parse()?
        } else {
            value.parse()?
        };
        Ok(Some(path))
    } else {
        Ok(None)
    }
}

/// The facade crate's path given on a derived struct, `#[attr(crate = path)]`, or the
/// default; any other argument of `#[attr]` is reported with the message `unknown`.
pub fn crate_arg(
    attrs: &[syn::Attribute],
    attr: &str,
    unknown: &str,
    errors: &mut Errors,
) -> syn::Path {
    let mut krate = default_crate();
    for a in attrs.iter().filter(|a| a.path().is_ident(attr)) {
        let result = a.parse_nested_meta(|meta| match parse_crate_arg(&meta)? {
            Some(path) => {
                krate = path;
                Ok(())
            }
            None => Err(meta.error(unknown)),
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    krate
}

/// The default path of the facade crate.
pub fn default_crate() -> syn::Path {
    syn::parse_quote!(::rnn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tidy_prints_types_as_written() {
        let ty: syn::Type = syn::parse_quote!(&'a mut SVector<Vec<f32>, { N }>);
        assert_eq!(super::tidy(&ty), "&'a mut SVector<Vec<f32>, { N }>");
        let ty: syn::Type = syn::parse_quote!([f32; 3]);
        assert_eq!(super::tidy(&ty), "[f32; 3]");
        let r: syn::Receiver = syn::parse_quote!(&mut self);
        assert_eq!(super::tidy(&r), "&mut self");
        let r: syn::Receiver = syn::parse_quote!(self: Box<Self>);
        assert_eq!(super::tidy(&r), "self: Box<Self>");
    }
}
