//! What `#[derive(Parameters)]` expands to calls; not a public API.

use super::{Dtype, Init, Path, Shape, Tensor, Values, ValuesMut, Visitor, VisitorMut};

/// `#[parameters(init = expr)]`: an `Init`, or an `Initializer` for every scheme.
pub fn init(init: impl Into<Init>) -> Init {
    init.into()
}

/// The product of a shape's dimensions, in a `const` check.
pub const fn product(dims: &[usize]) -> usize {
    let mut n = 1;
    let mut i = 0;
    while i < dims.len() {
        n *= dims[i];
        i += 1;
    }
    n
}

/// `a == b`, in a `const` check (a function, so that lints see no `x == x`).
pub const fn same_len(a: usize, b: usize) -> bool {
    a == b
}

/// A leaf reported under another shape (`#[parameters(shape = …)]`).
pub struct Reshaped<'a> {
    inner: &'a dyn Tensor,
    shape: Shape,
}

impl<'a> Reshaped<'a> {
    pub fn new(inner: &'a dyn Tensor, dims: &[usize]) -> Self {
        Reshaped {
            inner,
            shape: Shape::new(dims),
        }
    }
}

impl Tensor for Reshaped<'_> {
    fn shape(&self) -> Shape {
        self.shape
    }
    fn dtype(&self) -> Dtype {
        self.inner.dtype()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        self.inner.read(f)
    }
    fn write(&mut self, _: &mut dyn FnMut() -> f64) {
        // Only ever handed out as `&dyn Tensor`, so never called.
    }
    fn default_init(&self) -> Init {
        self.inner.default_init()
    }
    // The same values in the same order: only the reported shape differs.
    fn values(&self) -> Option<Values<'_>> {
        self.inner.values()
    }
}

/// A leaf reported under another shape, mutable.
pub struct ReshapedMut<'a> {
    inner: &'a mut dyn Tensor,
    shape: Shape,
}

impl<'a> ReshapedMut<'a> {
    pub fn new(inner: &'a mut dyn Tensor, dims: &[usize]) -> Self {
        ReshapedMut {
            inner,
            shape: Shape::new(dims),
        }
    }
}

impl Tensor for ReshapedMut<'_> {
    fn shape(&self) -> Shape {
        self.shape
    }
    fn dtype(&self) -> Dtype {
        self.inner.dtype()
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        self.inner.read(f)
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        self.inner.write(f)
    }
    fn default_init(&self) -> Init {
        self.inner.default_init()
    }
    fn values(&self) -> Option<Values<'_>> {
        self.inner.values()
    }
    fn values_mut(&mut self) -> Option<ValuesMut<'_>> {
        self.inner.values_mut()
    }
    fn defer_products(&mut self, on: bool) {
        self.inner.defer_products(on);
    }
}

/// Present rows of a `row_of` group, as one tensor `[rows, …]`.
pub struct Rows<'r, 'a>(&'r [Option<&'a dyn Tensor>]);

fn rows_shape<'t>(rows: impl Iterator<Item = &'t (dyn Tensor + 't)>) -> Shape {
    let mut n = 0;
    let mut first = Shape::SCALAR;
    for t in rows {
        if n == 0 {
            first = t.shape();
        }
        n += 1;
    }
    if n == 1 {
        first
    } else {
        // Rank overflow would need a rank-8 row: report the rows flat instead.
        first
            .prepend(n)
            .unwrap_or_else(|| Shape::new(&[n * first.len()]))
    }
}

impl Tensor for Rows<'_, '_> {
    fn shape(&self) -> Shape {
        rows_shape(self.0.iter().flatten().copied())
    }
    fn dtype(&self) -> Dtype {
        self.0
            .iter()
            .flatten()
            .next()
            .map_or(Dtype::F32, |t| t.dtype())
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        for t in self.0.iter().flatten() {
            t.read(f);
        }
    }
    fn write(&mut self, _: &mut dyn FnMut() -> f64) {
        // Only ever handed out as `&dyn Tensor`, so never called.
    }
    fn default_init(&self) -> Init {
        self.0
            .iter()
            .flatten()
            .next()
            .map_or(Init::bias(0), |t| t.default_init())
    }
}

/// Present rows of a `row_of` group, mutable.
pub struct RowsMut<'r, 'a>(&'r mut [Option<&'a mut dyn Tensor>]);

impl Tensor for RowsMut<'_, '_> {
    fn shape(&self) -> Shape {
        rows_shape(self.0.iter().flatten().map(|t| &**t))
    }
    fn dtype(&self) -> Dtype {
        self.0
            .iter()
            .flatten()
            .next()
            .map_or(Dtype::F32, |t| t.dtype())
    }
    fn read(&self, f: &mut dyn FnMut(f64)) {
        for t in self.0.iter().flatten() {
            t.read(f);
        }
    }
    fn write(&mut self, f: &mut dyn FnMut() -> f64) {
        for t in self.0.iter_mut().flatten() {
            t.write(f);
        }
    }
    fn defer_products(&mut self, on: bool) {
        for t in self.0.iter_mut().flatten() {
            t.defer_products(on);
        }
    }
    fn default_init(&self) -> Init {
        self.0
            .iter()
            .flatten()
            .next()
            .map_or(Init::bias(0), |t| t.default_init())
    }
}

pub fn visit_rows(path: &Path<'_>, rows: &[Option<&dyn Tensor>], f: &mut Visitor<'_>) {
    if rows.iter().any(Option::is_some) {
        f(path, &Rows(rows));
    }
}

pub fn visit_rows_mut(
    path: &Path<'_>,
    rows: &mut [Option<&mut dyn Tensor>],
    init: Option<Init>,
    f: &mut VisitorMut<'_>,
) {
    if rows.iter().any(Option::is_some) {
        let mut tensor = RowsMut(rows);
        let init = init.unwrap_or_else(|| tensor.default_init());
        f(path, &mut tensor, init);
    }
}

pub fn visit_reshaped_mut(
    path: &Path<'_>,
    tensor: Option<&mut dyn Tensor>,
    dims: &[usize],
    init: Option<Init>,
    f: &mut VisitorMut<'_>,
) {
    if let Some(inner) = tensor {
        let mut tensor = ReshapedMut::new(inner, dims);
        let init = init.unwrap_or_else(|| tensor.default_init());
        f(path, &mut tensor, init);
    }
}

pub fn visit_reshaped(
    path: &Path<'_>,
    tensor: Option<&dyn Tensor>,
    dims: &[usize],
    f: &mut Visitor<'_>,
) {
    if let Some(inner) = tensor {
        f(path, &Reshaped::new(inner, dims));
    }
}
