//! Collects several `syn::Error`s so that one build reports every bad field, not just the first.

/// The errors recorded so far, combined into one.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Records `e`.
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// Keeps the value of `r`, recording its error.
    pub fn take<T>(&mut self, r: syn::Result<T>) -> Option<T> {
        r.map_err(|e| self.push(e)).ok()
    }

    /// `Err` with every recorded error, if there is one.
    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
