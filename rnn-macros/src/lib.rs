//! Procedural macros of the `rnn` crate: [`macro@cell`] turns a step function into a
//! recurrent cell, [`derive@Nested`] makes a struct a value that flows through one.
//!
//! Both follow serde_derive's shape: parse the tokens into a small model (collecting every
//! mistake, each spanned on the user's tokens), then expand a valid model with `quote`. On a
//! mistake they still emit the user's item and a stub of what they would have generated, so
//! that one mistake gives one error rather than a cascade.

mod cell;
mod errors;
mod generics;
mod nested;
mod parameters;

use proc_macro::TokenStream;

/// Turns a step function into a recurrent cell.
///
/// On a free function, generates a cell type named after it in CamelCase (`fn accumulate`
/// gives `struct Accumulate`); on an `impl` block, implements the cell for the block's type
/// from its `step` method. Every parameter has a role:
///
/// - `#[input] x: &X`: read at each timestep (at least one);
/// - `#[state] h: &mut H`: carried from step to step, updated in place (any number);
/// - `#[constant] z: &Z`: read at every step, never changed (any number).
///
/// With one parameter of a role, the cell's `Input`/`State`/`Constants` is its type; with
/// several, a generated struct `{Cell}Input`/`{Cell}State`/`{Cell}Constants` whose fields are
/// the parameters' names; with none, `()`. The return type is the cell's `Output`.
///
/// When the cell's type has `Parameters`, `#[cell]` also generates the backward of the step
/// (`rnn::train::Differentiable`) from its body, so a custom cell trains like a built-in; a
/// body it cannot differentiate is a compile error on the expression that says what to write
/// instead. `#[cell(inference)]` generates no backward (a cell that only runs).
///
/// The backward recognises `rnn`'s operations for cell writers by the call's path: a call
/// whose path ends in `ops::NAME` (`ops::tanh(&x)`, `rnn::ops::tanh(&x)`), `NAME` one of
/// `sigmoid`, `tanh`, `relu`, `hard_sigmoid`, `softmax`, `exp`, `concat`, `split`, `dropout`
/// and `recurrent_dropout`, is differentiated as that operation, and the generated code checks
/// at compile time that the path names `rnn`'s function (a module of your own named `ops` is a
/// compile error there, never a wrong gradient). A call by a bare name (`tanh(&x)` after
/// `use rnn::ops::tanh`) is read as a helper's. A helper is any other function called by a
/// path of lowercase names (`squash(..)`, `util::squash(..)`); it must be marked
/// [`#[differentiable]`](macro@differentiable), else the call is a compile error saying so.
///
/// Dropout inside the step, as Keras's `DropoutRNNCell` does it: `rnn::ops::dropout(&x)` drops
/// units of `x` at the rate, `rnn::ops::recurrent_dropout(&h)` at the recurrent rate, of the
/// `Rnn`'s `Dropout { rate, recurrent_rate, seed }` (`Rnn::dropout`). Each call draws one mask
/// per sequence, from the seed, the training run and the sequence's place in its batch, and
/// uses it at every step of that sequence; kept units are scaled by `1/(1 − rate)`; the
/// backward drops the adjoint with the same mask. Outside training (`Cell::step`, so every
/// inference driver) both are the identity. A sub-cell stepped by a custom step draws its own
/// masks from its parent's; a helper cannot drop (call the operation in the step).
///
/// `#[cell(crate = path)]` names the `rnn` crate when it is not `::rnn` (inside `rnn-core`).
#[proc_macro_attribute]
pub fn cell(args: TokenStream, item: TokenStream) -> TokenStream {
    cell::expand(args.into(), item.into()).into()
}

/// Marks a helper function that a `#[cell]` step calls as differentiable.
///
/// `#[differentiable]` differentiates the helper's body as a step's body is (the same
/// operations, the same rules); `#[differentiable(adjoint = path)]` gives it a hand-written
/// adjoint instead (JAX's `custom_vjp`): `path` is a function taking the helper's arguments,
/// then its result and the result's adjoint, all by reference, and returning the tuple of the
/// arguments' adjoints. The helper itself is unchanged. `crate = path` names the `rnn` crate
/// when it is not `::rnn`.
#[proc_macro_attribute]
pub fn differentiable(args: TokenStream, item: TokenStream) -> TokenStream {
    cell::helper(args.into(), item.into()).into()
}

/// Makes a struct a `Nested` value: it can then be an input, state, constant or output of a
/// cell. Every field must itself be `Nested`; the struct must also be `Clone`, `Debug` and
/// `PartialEq` (derive them alongside).
///
/// `#[nested(crate = path)]` names the `rnn` crate when it is not `::rnn`.
#[proc_macro_derive(Nested, attributes(nested))]
pub fn derive_nested(item: TokenStream) -> TokenStream {
    nested::expand(item.into()).into()
}

/// Derives `Parameters` for a struct: its weights are its fields' weights, each under the
/// field's name (`decoder/gru/kernel`), for counting, visiting, seeded initialisation,
/// `summary()` and weight files.
///
/// Field attributes: `#[parameters(skip)]` (not a weight: activations, flags),
/// `rename = "name"`, `flatten` (no segment of its own), `init = expr` (an `Init` or an
/// `Initializer`), `shape = [d0, d1, ..]` (report a leaf under another row-major shape),
/// `row_of = "name"` (consecutive fields as the rows of one tensor). On the struct,
/// `#[parameters(crate = path)]` names the `rnn` crate when it is not `::rnn`. The full
/// description is in `rnn::parameters`.
#[proc_macro_derive(Parameters, attributes(parameters))]
pub fn derive_parameters(item: TokenStream) -> TokenStream {
    parameters::expand(item.into()).into()
}
