//! The fused GRU's backward, both variants: `h' = z ⊙ h + (1 − z) ⊙ h̃`, with
//! `h̃ = act(x·W_h + r ⊙ (h·U_h + b'_h))` (`reset_after`) or `act(x·W_h + (r ⊙ h)·U_h)`.

use super::super::gates::{self, sigmoid_slope, Lanes, Units};
use super::super::packed::{Part, Path, Pool, Stacked};
use super::super::Gru;
use super::{adjoint, backward, forward, product, Back, Backward, Gradients, Step, Trace};
use crate::error::ShapeError;
use crate::ops::Activation;

one_state_training!(Gru, 3, "`[z r h̃]` after their activations and what the candidate's recurrent part read, `4H` values per sample-step");

impl<const I: usize, const H: usize> Backward<I, 3, H> for Gru<'_, I, H> {
    const RECURRENT_BIAS: bool = true;

    /// With `reset_after`, `dh̃ ⊙ r`: the adjoint of `h·U_h + b'_h`.
    fn extra(&self) -> usize {
        if self.cell().reset_after {
            H
        } else {
            0
        }
    }

    /// With `reset_after`, one product `[dz dr | dh̃ ⊙ r] · Uᵀ`; without, `dh̃ · U_hᵀ` (the
    /// adjoint of `r ⊙ h`, which the reset gate's adjoint needs) then `[dz dr] · U_zrᵀ`.
    fn step_weights<'u>(&self, u: &'u [f32], path: Path, pool: &mut Pool) -> [Stacked<'u>; 2] {
        // Rows `from .. from + k` of `Uᵀ`: columns of `U`.
        let rows = |from: usize, k: usize| Part {
            b: &u[from..],
            k,
            rs: 1,
            cs: 3 * H,
            col0: 0,
        };
        if self.cell().reset_after {
            [
                Stacked::new([rows(0, 2 * H), rows(2 * H, H)], H, None, path, pool),
                Stacked::new([Part::NONE, Part::NONE], 0, None, path, pool),
            ]
        } else {
            [
                Stacked::new([rows(0, 2 * H), Part::NONE], H, None, path, pool),
                Stacked::new([rows(2 * H, H), Part::NONE], H, None, path, pool),
            ]
        }
    }

    #[inline(always)]
    fn step(&self, w: &[Stacked<'_>; 2], c: &mut Back<'_>, at: Step, path: Path) {
        let cell = self.cell();
        let (act, rec) = (cell.activation, cell.recurrent_activation);
        let standard = (act, rec) == (Activation::Tanh, Activation::Sigmoid);
        let reset_after = cell.reset_after;
        let (saved, gh) = (4 * H, 3 * H);
        let (tape, dy) = (c.tape, c.dy);
        for b in 0..at.n {
            let here = Back::row(b, at, saved);
            let prev = c.prev(b, at, H);
            let (direct, dh) = c.tmp[b * 2 * H..(b + 1) * 2 * H].split_at_mut(H);
            let step = Sample {
                gates: &tape[here..here + saved],
                prev,
                dy: &dy[Back::row(b, at, H)..][..H],
                dh: &c.dh[b * H..(b + 1) * H],
                dz: &mut c.dz[Back::row(b, at, gh)..][..gh],
                dzc: match reset_after {
                    true => &mut c.dzc[Back::row(b, at, H)..][..H],
                    false => &mut [],
                },
                direct,
                reset_after,
            };
            if standard {
                gates::run(&mut { step }, H, path);
            } else {
                step.general((act, rec), dh);
            }
        }
        let (t, rows) = (at.t, at.t_len * gh);
        if reset_after {
            let dzc = (&c.dzc[t * H..], at.t_len * H);
            w[0].product(at.n, [(&c.dz[t * gh..], rows), dzc], c.dh, H);
        } else {
            // The adjoint of `r ⊙ h` into each sample's second row of `tmp`.
            let dh_candidate = (&c.dz[t * gh + 2 * H..], rows);
            w[1].product(at.n, [dh_candidate, (&[], 0)], &mut c.tmp[H..], 2 * H);
            for b in 0..at.n {
                let here = Back::row(b, at, saved);
                let prev = c.prev(b, at, H);
                let (direct, d_rh) = c.tmp[b * 2 * H..(b + 1) * 2 * H].split_at_mut(H);
                let mut step = Reset {
                    r: &tape[here + H..here + 2 * H],
                    prev,
                    d_rh,
                    dr: &mut c.dz[Back::row(b, at, gh) + H..][..H],
                    direct,
                };
                if rec == Activation::Sigmoid {
                    gates::run(&mut step, H, path);
                } else {
                    step.general(rec);
                }
            }
            w[0].product(at.n, [(&c.dz[t * gh..], rows), (&[], 0)], c.dh, H);
        }
        // The part of `h'` that passed straight through: `dh ⊙ z` (and `d(r ⊙ h) ⊙ r`).
        for (dh, direct) in c.dh[..at.n * H]
            .chunks_exact_mut(H)
            .zip(c.tmp.chunks_exact(2 * H))
        {
            for (dh, direct) in dh.iter_mut().zip(direct) {
                *dh += direct;
            }
        }
    }

    /// `[X | H_prev]ᵀ · dZ` for the `z r` columns; the candidate's: `Xᵀ · dh̃` and, with
    /// `reset_after`, `H_prevᵀ · (dh̃ ⊙ r)` (and its column sums for `b'`), without,
    /// `(r ⊙ H_prev)ᵀ · dh̃` from the record.
    fn weight_gradients(&self, c: &mut Back<'_>, rows: usize, path: Path) {
        let (gh, xw) = (3 * H, I + H);
        let dz = |col0: usize| Part {
            b: c.dz,
            k: rows,
            rs: gh,
            cs: 1,
            col0,
        };
        let (pool, xh) = (&mut c.pools[0], &*c.xh);
        product((pool, path), xw, (xh, 1, xw), dz(0), 2 * H, (c.partial, gh));
        let candidate_w = &mut c.partial[2 * H..];
        product(
            (pool, path),
            I,
            (xh, 1, xw),
            dz(2 * H),
            H,
            (candidate_w, gh),
        );
        let candidate_u = &mut c.partial[I * gh + 2 * H..];
        if self.cell().reset_after {
            let dzc = Part {
                b: c.dzc,
                k: rows,
                rs: H,
                cs: 1,
                col0: 0,
            };
            let h_prev = (&xh[I..], 1, xw);
            product((pool, path), H, h_prev, dzc, H, (candidate_u, gh));
            let recurrent_bias = &mut c.partial[(xw + 1) * gh..];
            let (zr, candidate) = recurrent_bias.split_at_mut(2 * H);
            for (dz, dzc) in c.dz.chunks_exact(gh).zip(c.dzc.chunks_exact(H)) {
                for (s, d) in zr.iter_mut().zip(dz) {
                    *s += d;
                }
                for (s, d) in candidate.iter_mut().zip(dzc) {
                    *s += d;
                }
            }
        } else {
            // `(r ⊙ H_prev)ᵀ`, from the record.
            let reset_h = (&c.tape[3 * H..], 1, 4 * H);
            product((pool, path), H, reset_h, dz(2 * H), H, (candidate_u, gh));
        }
    }
}

/// One sample's step backward: from its record `[z r h̃ kept]` (`kept`: `h·U_h + b'_h` with
/// `reset_after`), its previous output and the adjoints of its output `dy` and carried `dh`,
/// the gate adjoints `dz` (without `reset_after`, all but `dr`, which needs a product first),
/// `dzc` (with `reset_after`) and the part of the previous output's adjoint that passed
/// straight through, `direct = dh ⊙ z`.
struct Sample<'r> {
    gates: &'r [f32],
    prev: &'r [f32],
    dy: &'r [f32],
    dh: &'r [f32],
    dz: &'r mut [f32],
    dzc: &'r mut [f32],
    direct: &'r mut [f32],
    reset_after: bool,
}

impl Units for Sample<'_> {
    #[inline(always)]
    fn units<L: Lanes>(&mut self, l: L, k: usize) {
        let h = self.direct.len();
        let gate = |g: usize| l.load(&self.gates[g * h + k..]);
        let (z, candidate) = (gate(0), gate(2));
        let one = l.splat(1.0);
        let dh = l.add(l.load(&self.dy[k..]), l.load(&self.dh[k..]));
        let prev = l.load(&self.prev[k..]);
        let dz = l.mul(l.mul(dh, l.sub(prev, candidate)), sigmoid_slope(l, z));
        let tanh_slope = l.sub(one, l.mul(candidate, candidate));
        let d_candidate = l.mul(l.mul(dh, l.sub(one, z)), tanh_slope);
        l.store(dz, &mut self.dz[k..]);
        l.store(d_candidate, &mut self.dz[2 * h + k..]);
        l.store(l.mul(dh, z), &mut self.direct[k..]);
        if self.reset_after {
            let (r, kept) = (gate(1), gate(3));
            let dr = l.mul(l.mul(d_candidate, kept), sigmoid_slope(l, r));
            l.store(dr, &mut self.dz[h + k..]);
            l.store(l.mul(d_candidate, r), &mut self.dzc[k..]);
        }
    }
}

impl Sample<'_> {
    /// The step with any activations, a pass per operation; `dh` holds `H` values.
    fn general(self, (act, rec): (Activation, Activation), dh: &mut [f32]) {
        let h = self.direct.len();
        let gate = |g: usize| &self.gates[g * h..(g + 1) * h];
        let (z, r, candidate, kept) = (gate(0), gate(1), gate(2), gate(3));
        for (dh, (&dy, &carried)) in dh.iter_mut().zip(self.dy.iter().zip(self.dh)) {
            *dh = dy + carried;
        }
        let (dz, rest) = self.dz.split_at_mut(h);
        let (dr, d_candidate) = rest.split_at_mut(h);
        for k in 0..h {
            dz[k] = dh[k] * (self.prev[k] - candidate[k]);
            d_candidate[k] = dh[k] * (1.0 - z[k]);
            self.direct[k] = dh[k] * z[k];
        }
        adjoint(rec, z, dz);
        adjoint(act, candidate, d_candidate);
        if self.reset_after {
            for k in 0..h {
                dr[k] = d_candidate[k] * kept[k];
                self.dzc[k] = d_candidate[k] * r[k];
            }
            adjoint(rec, r, dr);
        }
    }
}

/// Without `reset_after`, the rest of a sample's step once `d_rh`, the adjoint of `r ⊙ h`,
/// is known: the reset gate's adjoint `dr` and `d_rh ⊙ r` added to `direct`.
struct Reset<'r> {
    r: &'r [f32],
    prev: &'r [f32],
    d_rh: &'r [f32],
    dr: &'r mut [f32],
    direct: &'r mut [f32],
}

impl Units for Reset<'_> {
    #[inline(always)]
    fn units<L: Lanes>(&mut self, l: L, k: usize) {
        let (r, d_rh) = (l.load(&self.r[k..]), l.load(&self.d_rh[k..]));
        let dr = l.mul(l.mul(d_rh, l.load(&self.prev[k..])), sigmoid_slope(l, r));
        l.store(dr, &mut self.dr[k..]);
        let direct = l.mul_add(d_rh, r, l.load(&self.direct[k..]));
        l.store(direct, &mut self.direct[k..]);
    }
}

impl Reset<'_> {
    /// With any recurrent activation.
    fn general(self, rec: Activation) {
        for k in 0..self.dr.len() {
            self.dr[k] = self.d_rh[k] * self.prev[k];
            self.direct[k] += self.d_rh[k] * self.r[k];
        }
        adjoint(rec, self.r, self.dr);
    }
}
