//! `Option`, `Box`, `()` and tuples of parameters.

use super::{Init, Parameters, Path, Visitor, VisitorMut};

impl<P: Parameters> Parameters for Option<P> {
    fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
        if let Some(p) = self {
            p.visit(path, f);
        }
    }
    fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
        if let Some(p) = self {
            p.visit_mut(path, init, f);
        }
    }
}

#[cfg(feature = "alloc")]
impl<P: Parameters + ?Sized> Parameters for alloc::boxed::Box<P> {
    fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
        (**self).visit(path, f);
    }
    fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
        (**self).visit_mut(path, init, f);
    }
}

impl Parameters for () {
    fn visit(&self, _: &Path<'_>, _: &mut Visitor<'_>) {}
    fn visit_mut(&mut self, _: &Path<'_>, _: Option<Init>, _: &mut VisitorMut<'_>) {}
}

macro_rules! tuple_parameters {
    ($($name:ident . $idx:tt),+) => {
        impl<$($name: Parameters),+> Parameters for ($($name,)+) {
            fn visit(&self, path: &Path<'_>, f: &mut Visitor<'_>) {
                $(self.$idx.visit(&path.join(stringify!($idx)), f);)+
            }
            fn visit_mut(&mut self, path: &Path<'_>, init: Option<Init>, f: &mut VisitorMut<'_>) {
                $(self.$idx.visit_mut(&path.join(stringify!($idx)), init, f);)+
            }
        }
    };
}
tuple_parameters!(A.0);
tuple_parameters!(A.0, B.1);
tuple_parameters!(A.0, B.1, C.2);
tuple_parameters!(A.0, B.1, C.2, D.3);
tuple_parameters!(A.0, B.1, C.2, D.3, E.4);
tuple_parameters!(A.0, B.1, C.2, D.3, E.4, F.5);
tuple_parameters!(A.0, B.1, C.2, D.3, E.4, F.5, G.6);
tuple_parameters!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7);
