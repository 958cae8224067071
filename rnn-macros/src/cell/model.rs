//! The small model of a cell that parsing builds and expansion reads: the roles of its
//! parameters, their types, the generics, the body. Kept whole (nothing dropped that a
//! generated backward pass would need later).

use syn::{Attribute, Block, Generics, Ident, ItemFn, ItemImpl, Path, Type, Visibility};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    Input,
    State,
    Constant,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Input, Role::State, Role::Constant];

    pub fn attr_name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::State => "state",
            Role::Constant => "constant",
        }
    }

    /// Suffix of the generated struct when the role has several parameters.
    pub fn struct_suffix(self) -> &'static str {
        match self {
            Role::Input => "Input",
            Role::State => "State",
            Role::Constant => "Constants",
        }
    }

    pub fn from_attr(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.attr_name() == name)
    }
}

/// One parameter of the step function.
pub struct Param {
    pub role: Role,
    /// The parameter's name: the generated struct's field.
    pub name: Ident,
    /// The parameter's pattern and full type as written (`&mut SVector<f32, 10>`).
    pub pat: syn::Pat,
    pub full_ty: Type,
    /// The value's type (`SVector<f32, 10>`).
    pub ty: Type,
}

/// Where the step function came from.
pub enum Origin {
    /// A free function; the cell type is generated.
    Fn(ItemFn),
    /// The `step` method of an inherent impl; the other items stay in the impl.
    Impl {
        item: ItemImpl,
        step_attrs: Vec<Attribute>,
        /// Provided `Cell` methods written next to `step` (`fn step_block`, a step over a
        /// block of samples that shares the weight reads), moved as written into the
        /// generated `Cell` impl.
        overrides: Vec<syn::ImplItemFn>,
    },
}

pub struct Cell {
    /// Path of the `rnn` facade (or `rnn_core`) in generated code.
    pub krate: Path,
    pub origin: Origin,
    /// Name that generated role structs start with (`LstmCell` → `LstmCellState`).
    pub cell_ident: Ident,
    /// The cell type (`Accumulate`, `GruCell<T, I, H>`).
    pub cell_ty: Type,
    /// Generics of the function (free fn) or of the impl.
    pub generics: Generics,
    /// Visibility of generated items.
    pub vis: Visibility,
    pub params: Vec<Param>,
    /// Some parameter's role attribute was unknown (already reported): checks that count
    /// roles would only repeat that mistake.
    pub roles_unread: bool,
    pub output: Option<Type>,
    pub body: Block,
    /// The function's signature, where whole-function mistakes are reported.
    pub sig: syn::Signature,
    /// Whether to generate the backward of the step (`#[cell(inference)]` says not to).
    pub differentiable: bool,
}

impl Cell {
    pub fn params_of(&self, role: Role) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(move |p| p.role == role)
    }
}
