//! Weight storage of the built-in cells: a kernel laid out as Keras stores it.
//!
//! A [`Kernel<T, IN, G, H>`] holds `G` gate blocks of `IN → H` weights as one `[IN, G·H]`
//! row-major matrix: exactly Keras's `kernel` (LSTM `G = 4`, gates `i f c o`; GRU `G = 3`,
//! `z r h`; Dense and SimpleRNN `G = 1`). So importing Keras weights is a copy, and the
//! product `x · W` walks contiguous rows (`y += x[j] · W[j, :]`), which vectorizes.
//! Stable Rust has no `{4 * H}` const expressions; the nested array `[[[T; H]; G]; IN]` has
//! that layout without one.
//!
//! With the `alloc` feature the values live on the heap, so no parameter size can overflow
//! a thread's stack (a large cell's kernel can be megabytes); without it they are inline, for `no_std`
//! targets with small models.

use core::mem::MaybeUninit;

use nalgebra::SVector;

use crate::kernels::Rounding;
use crate::real::Real;

#[cfg(feature = "alloc")]
mod outer;

/// `G` gate blocks of `IN → H` weights, stored as Keras's `[IN, G·H]` kernel.
///
/// With `alloc` the first weight is aligned to a cache line (64 bytes), so that no vector
/// load of a row straddles two lines wherever the allocator put the buffer (a small step
/// slows markedly when its weights start inside a line). A kernel with
/// no output column (`G · H = 0`, like Keras's `units=0`) does not compile.
pub struct Kernel<T, const IN: usize, const G: usize, const H: usize> {
    #[cfg(feature = "alloc")]
    weights: aligned::Aligned<T>,
    /// As a gradient a backward adds into: the outer products kept and not yet added (see
    /// [`defer_outer`](Kernel::defer_outer)).
    #[cfg(feature = "alloc")]
    outer: Option<alloc::boxed::Box<outer::Outer<T>>>,
    #[cfg(not(feature = "alloc"))]
    rows: [[[T; H]; G]; IN],
}

/// A plain `IN → OUT` weight matrix (one gate block).
pub type Weights<T, const IN: usize, const OUT: usize> = Kernel<T, IN, 1, OUT>;

impl<T: Real, const IN: usize, const G: usize, const H: usize> Kernel<T, IN, G, H> {
    /// All zeros, built in place (never as a temporary on the stack).
    pub fn zeros() -> Self {
        Self::from_fn(|_, _| T::zero())
    }

    /// `f(row, column)` for every entry of the `[IN, G·H]` matrix.
    pub fn from_fn(mut f: impl FnMut(usize, usize) -> T) -> Self {
        const {
            assert!(
                G * H > 0,
                "a kernel needs at least one output column (units > 0)"
            );
        }
        #[cfg(feature = "alloc")]
        {
            let mut kernel = Kernel {
                weights: aligned::Aligned::zeros(IN * G * H),
                outer: None,
            };
            fill(kernel.rows_mut(), &mut f);
            kernel
        }
        #[cfg(not(feature = "alloc"))]
        {
            let mut rows = [[[T::zero(); H]; G]; IN];
            fill(&mut rows, &mut f);
            Kernel { rows }
        }
    }

    /// The rows: `rows()[j][g]` is gate `g`'s weights from input `j`.
    #[inline(always)]
    pub fn rows(&self) -> &[[[T; H]; G]; IN] {
        #[cfg(feature = "alloc")]
        {
            debug_assert!(
                !self.outer.as_ref().is_some_and(|outer| outer.is_pending()),
                "a gradient read with outer products not yet added"
            );
            let (rows, _) = self.weights.as_slice().as_chunks::<H>();
            let (rows, _) = rows.as_chunks::<G>();
            rows.try_into().expect("IN rows")
        }
        #[cfg(not(feature = "alloc"))]
        {
            &self.rows
        }
    }

    /// The rows, mutable.
    #[inline(always)]
    pub fn rows_mut(&mut self) -> &mut [[[T; H]; G]; IN] {
        #[cfg(feature = "alloc")]
        {
            // Kept terms first: a write after them must come after them.
            self.add_kept();
            let (rows, _) = self.weights.as_mut_slice().as_chunks_mut::<H>();
            let (rows, _) = rows.as_chunks_mut::<G>();
            rows.try_into().expect("IN rows")
        }
        #[cfg(not(feature = "alloc"))]
        {
            &mut self.rows
        }
    }

    /// The `[IN, G·H]` entries, row-major (Keras's layout).
    pub fn as_slice(&self) -> &[T] {
        self.rows().as_flattened().as_flattened()
    }

    /// The `[IN, G·H]` entries, row-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.rows_mut().as_flattened_mut().as_flattened_mut()
    }

    /// `out[g] += x · W_g` for every gate `g`: the input contribution to each gate.
    #[inline(always)]
    pub fn accumulate(&self, x: &SVector<T, IN>, out: &mut [SVector<T, H>; G]) {
        crate::with_rounding!(R => self.accumulate_with::<R>(x, out))
    }

    /// [`accumulate`](Kernel::accumulate) with the multiply-adds rounded as `R` says,
    /// compiled where it is called.
    #[inline(always)]
    pub fn accumulate_with<R: Rounding>(&self, x: &SVector<T, IN>, out: &mut [SVector<T, H>; G]) {
        crate::kernels::accumulate_rows_with::<R, T, IN, G, H>(
            self.rows(),
            x.as_slice().try_into().expect("IN values"),
            out,
        );
    }

    /// [`accumulate_with`](Kernel::accumulate_with) with the first `LEADING` gates summed
    /// before the others, for a step that needs those gates first (the same bits).
    #[inline(always)]
    pub(crate) fn accumulate_leading_with<R: Rounding, const LEADING: usize>(
        &self,
        x: &SVector<T, IN>,
        out: &mut [SVector<T, H>; G],
    ) {
        crate::kernels::accumulate_rows_leading_with::<R, T, IN, G, H, LEADING>(
            self.rows(),
            x.as_slice().try_into().expect("IN values"),
            out,
        );
    }

    /// `out[n][g] += xs[n] · W_g` for a block of `N` samples, each weight read once for the
    /// whole block; bit-identical to `N` calls of [`accumulate`](Kernel::accumulate).
    #[inline(always)]
    pub fn accumulate_block<const N: usize>(
        &self,
        xs: [&SVector<T, IN>; N],
        out: &mut [[SVector<T, H>; G]; N],
    ) {
        crate::kernels::accumulate_rows_block(
            self.rows(),
            xs.map(|x| x.as_slice().try_into().expect("IN values")),
            out,
        );
    }

    /// `start + xs[n] · W_g` for every gate `g` of `N` inputs into `out[n]`, each weight read
    /// once for the `N`: the input products of several timesteps of one sequence at once
    /// ([`Cell::step_chunk`](crate::Cell::step_chunk)). Each sum starts from `start` and adds
    /// in input order, so every result has the bits of `out = start` followed by
    /// [`accumulate_with`](Kernel::accumulate_with). `out` need not be initialised: every
    /// value is written, and returned as written.
    // Out of line in unoptimized builds, which give every inlined temporary its own stack
    // slot: inlined, a chunk's projection and its steps' gates share one frame that,
    // added to a large static unroll's result, outgrew a 2 MiB thread stack.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn project_chunk_with<'a, R: Rounding, const N: usize>(
        &self,
        xs: [&SVector<T, IN>; N],
        start: &[SVector<T, H>; G],
        out: &'a mut [[[MaybeUninit<T>; H]; G]; N],
    ) -> &'a [[[T; H]; G]; N] {
        let start: [[T; H]; G] =
            core::array::from_fn(|g| start[g].as_slice().try_into().expect("H values"));
        crate::kernels::accumulate_block_into::<R, T, IN, G, H, N>(
            self.rows(),
            xs.map(|x| x.as_slice().try_into().expect("IN values")),
            &start,
            out,
        )
    }

    /// `N` consecutive steps of a cell whose input products do not depend on its state: every
    /// step's `start + x · W` first ([`project_chunk_with`](Kernel::project_chunk_with), each
    /// weight read once for the `N`), then `finish` completes each step from them, in order,
    /// and returns its output. The bits of `N` steps that each compute their own products.
    #[inline(always)]
    pub(crate) fn steps_after_projection<R: Rounding, const N: usize>(
        &self,
        xs: [&SVector<T, IN>; N],
        start: &[SVector<T, H>; G],
        mut finish: impl FnMut([SVector<T, H>; G]) -> SVector<T, H>,
    ) -> [SVector<T, H>; N] {
        // Not zeroed: the projection writes every value, and zeroing first was a `memset`
        // call per chunk, measurable in the narrow steps.
        let mut slots = [[[MaybeUninit::uninit(); H]; G]; N];
        let projected = self.project_chunk_with::<R, N>(xs, start, &mut slots);
        let mut outputs = [SVector::zeros(); N];
        for (output, z) in outputs.iter_mut().zip(projected) {
            *output = finish(z.map(SVector::from));
        }
        outputs
    }

    /// `out += x · W_g` for the one gate `g` (GRU's `reset_after = false` needs the candidate
    /// gate apart from the others).
    ///
    /// # Panics
    /// If `g` is not a gate of the kernel (`g >= G`), as indexing past a slice's end does.
    #[inline(always)]
    pub fn accumulate_gate(&self, g: usize, x: &SVector<T, IN>, out: &mut SVector<T, H>) {
        crate::with_rounding!(R => self.accumulate_gate_with::<R>(g, x, out))
    }

    /// [`accumulate_gate`](Kernel::accumulate_gate) with the multiply-adds rounded as `R`
    /// says, compiled where it is called; it panics as that does.
    #[inline(always)]
    pub fn accumulate_gate_with<R: Rounding>(
        &self,
        g: usize,
        x: &SVector<T, IN>,
        out: &mut SVector<T, H>,
    ) {
        crate::kernels::accumulate_gate_with::<R, T, IN, G, H>(
            self.rows(),
            g,
            x.as_slice().try_into().expect("IN values"),
            out,
        );
    }

    /// `x · W` for a one-gate kernel (Dense).
    #[inline(always)]
    pub fn apply(&self, x: &SVector<T, IN>) -> [SVector<T, H>; G] {
        let mut out = [SVector::zeros(); G];
        self.accumulate(x, &mut out);
        out
    }
}

/// A kernel as the gradient a backward adds into.
impl<T: Real, const IN: usize, const G: usize, const H: usize> Kernel<T, IN, G, H> {
    /// Whether the kernel is too large for the caches to hold it between steps (64 Ki values,
    /// 256 KB of `f32`): its products are then bound by reading it.
    #[cfg(feature = "alloc")]
    pub(crate) const LARGE: bool = IN * G * H >= 1 << 16;

    /// `self += x dzᵀ` (`self[j][g] += x[j] · dz[g]`): the gradient of `x · W` for the output
    /// adjoints `dz`. Kept, to be added with later ones in one sweep, while
    /// [`defer_outer`](Kernel::defer_outer) is on; the sums are the same bits either way.
    #[cfg(feature = "alloc")]
    #[inline(always)]
    pub(crate) fn add_outer(&mut self, x: &SVector<T, IN>, dz: &[SVector<T, H>; G]) {
        if let Some(outer) = self.outer.as_mut().filter(|outer| outer.on) {
            let dz = dz.iter().flat_map(|dz| dz.iter().copied());
            if outer.keep(x.as_slice(), dz) {
                self.add_kept();
            }
            return;
        }
        for (row, &x) in self.rows_mut().iter_mut().zip(x.iter()) {
            for (gate, dz) in row.iter_mut().zip(dz) {
                for (w, &d) in gate.iter_mut().zip(dz.iter()) {
                    *w += x * d;
                }
            }
        }
    }

    /// With `true`, the outer products [`add_outer`](Kernel::add_outer) adds into this
    /// gradient are kept and added in blocks, each block in one sweep over the values; with
    /// `false`, the kept ones are added and later ones are added at once. A backward over
    /// many steps turns it on for a gradient it adds into and off before the gradient is read.
    /// A gradient that is not [`LARGE`](Kernel::LARGE) adds its terms at once regardless: in
    /// the caches, a term's read and write of it are cheap.
    pub(crate) fn defer_outer(&mut self, on: bool) {
        #[cfg(feature = "alloc")]
        {
            if on && Self::LARGE {
                let outer = self.outer.get_or_insert_with(Default::default);
                // Room for a block of terms now, so that no step allocates.
                outer.reserve(IN, G * H);
                outer.on = true;
            } else if let Some(outer) = &mut self.outer {
                outer.on = false;
                self.add_kept();
            }
        }
        #[cfg(not(feature = "alloc"))]
        let _ = on;
    }

    /// Adds the kept outer products, if any.
    #[cfg(feature = "alloc")]
    #[inline(always)]
    fn add_kept(&mut self) {
        if let Some(outer) = self.outer.as_mut().filter(|outer| outer.is_pending()) {
            outer.add_into(self.weights.as_mut_slice(), G * H);
        }
    }
}

fn fill<T, const H: usize, const G: usize>(
    rows: &mut [[[T; H]; G]],
    f: &mut impl FnMut(usize, usize) -> T,
) {
    for (j, row) in rows.iter_mut().enumerate() {
        for (g, block) in row.iter_mut().enumerate() {
            for (k, w) in block.iter_mut().enumerate() {
                *w = f(j, g * H + k);
            }
        }
    }
}

impl<T: Real, const IN: usize, const G: usize, const H: usize> Clone for Kernel<T, IN, G, H> {
    fn clone(&self) -> Self {
        // A fresh aligned buffer (a copy of the box would keep the old offset at a new
        // address).
        let mut copy = Self::zeros();
        copy.as_mut_slice().copy_from_slice(self.as_slice());
        copy
    }
}

impl<T: Real, const IN: usize, const G: usize, const H: usize> PartialEq for Kernel<T, IN, G, H> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: core::fmt::Debug, const IN: usize, const G: usize, const H: usize> core::fmt::Debug
    for Kernel<T, IN, G, H>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Kernel[{IN}, {}]", G * H)
    }
}

#[cfg(feature = "alloc")]
mod aligned {
    use alloc::boxed::Box;

    /// Bytes the first value is aligned to: a cache line.
    const ALIGN: usize = 64;

    /// `len` values in a heap buffer, the first at a multiple of [`ALIGN`] bytes: the buffer
    /// has room for one line more, and `start` skips to the first aligned value.
    pub(super) struct Aligned<T> {
        buf: Box<[T]>,
        start: usize,
        len: usize,
    }

    impl<T: crate::real::Real> Aligned<T> {
        pub(super) fn zeros(len: usize) -> Self {
            let pad = ALIGN / core::mem::size_of::<T>().max(1);
            let buf = alloc::vec![T::zero(); len + pad].into_boxed_slice();
            // The offset, in values, of the first line boundary; a T-aligned buffer of f32 or
            // f64 always has one within `pad` values (else stay unaligned, still correct).
            let start = buf.as_ptr().align_offset(ALIGN);
            let start = if start <= pad { start } else { 0 };
            Aligned { buf, start, len }
        }
    }

    impl<T> Aligned<T> {
        #[inline(always)]
        pub(super) fn as_slice(&self) -> &[T] {
            &self.buf[self.start..self.start + self.len]
        }

        #[inline(always)]
        pub(super) fn as_mut_slice(&mut self) -> &mut [T] {
            &mut self.buf[self.start..self.start + self.len]
        }
    }
}
