//! Reading the planner's restriction clauses into `pushdown::Condition`s.
//!
//! Only shapes whose meaning PostgreSQL and Cognito share are recognised: `col = v`, `v = col`,
//! `col LIKE v`, `col IN (...)` with the text equality operator under a deterministic
//! collation, and boolean tests of a boolean column. Which of them the object can send is the
//! object's to say (`pushdown::rank`). A value is a constant or a parameter; anything
//! else (a function call, another column) stays local only. Whatever is recognised here is still
//! checked by PostgreSQL too.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::{FromDatum, PgList};

use crate::convert::ColumnType;
use crate::objects::{ColumnPlan, Field};
use crate::pushdown::{Condition, Operand};

/// Conditions found in `clauses`, and the parameter expressions their `Operand::Param`s index.
pub struct Found {
    pub conditions: Vec<Condition>,
    pub params: Vec<*mut pg_sys::Expr>,
    /// How many clauses were not recognised at all.
    pub unrecognised: usize,
}

/// # Safety
/// `clauses` is a List of RestrictInfo of the base relation `relid`, whose columns `columns`
/// describes.
pub unsafe fn find(clauses: *mut pg_sys::List, relid: u32, columns: &[ColumnPlan]) -> Found {
    let mut found = Found {
        conditions: Vec::new(),
        params: Vec::new(),
        unrecognised: 0,
    };
    // SAFETY: the caller passes baserel->baserestrictinfo (or a list like it), a List of
    // RestrictInfo valid during planning.
    let clauses = unsafe { PgList::<pg_sys::RestrictInfo>::from_pg(clauses) };
    for rinfo in clauses.iter_ptr() {
        let reader = Reader { relid, columns };
        // SAFETY: `rinfo` is a RestrictInfo of that list, whose clause is an expression tree
        // of the same planning call, which is what `condition` requires.
        match unsafe { reader.condition((*rinfo).clause, &mut found.params) } {
            Some(condition) => found.conditions.push(condition),
            None => found.unrecognised += 1,
        }
    }
    found
}

struct Reader<'a> {
    relid: u32,
    columns: &'a [ColumnPlan],
}

/// # Safety
/// `node` is NULL or a node of the planner's expression trees, valid while planning.
unsafe fn is_a(node: *mut pg_sys::Node, tag: pg_sys::NodeTag) -> bool {
    // SAFETY: a non-null `node` is a live node of the planner's tree (caller's contract), and
    // every node starts with its tag.
    !node.is_null() && unsafe { (*node).type_ } == tag
}

/// Strip binary-compatible casts, such as varchar to text.
///
/// # Safety
/// `node` is NULL or a node of the planner's expression trees, valid while planning.
unsafe fn strip(mut node: *mut pg_sys::Node) -> *mut pg_sys::Node {
    // SAFETY: `node` is NULL or a planner node (caller's contract); once is_a has checked its
    // tag it is a RelabelType, whose `arg` is again a node of the same tree.
    unsafe {
        while is_a(node, pg_sys::NodeTag::T_RelabelType) {
            node = (*node.cast::<pg_sys::RelabelType>()).arg.cast();
        }
    }
    node
}

impl Reader<'_> {
    /// # Safety
    /// `clause` is a restriction clause of the planner's expression trees, valid while
    /// planning.
    unsafe fn condition(
        &self,
        clause: *mut pg_sys::Expr,
        params: &mut Vec<*mut pg_sys::Expr>,
    ) -> Option<Condition> {
        let node = clause.cast::<pg_sys::Node>();
        // SAFETY: `node` is the caller's planner clause, which `column` and `is_a` accept.
        if let Some(field) = unsafe { self.column(node, ColumnType::Bool) } {
            return Some(Condition::Flag(field, true));
        }
        // SAFETY: as above.
        if unsafe { is_a(node, pg_sys::NodeTag::T_BoolExpr) } {
            let expr = node.cast::<pg_sys::BoolExpr>();
            // SAFETY: `node` is a BoolExpr of the planner's tree (checked by is_a); its args
            // are a List of expression nodes of the same tree.
            unsafe {
                let args = PgList::<pg_sys::Node>::from_pg((*expr).args);
                if (*expr).boolop == pg_sys::BoolExprType::NOT_EXPR && args.len() == 1 {
                    let field = self.column(args.get_ptr(0)?, ColumnType::Bool)?;
                    return Some(Condition::Flag(field, false));
                }
            }
            return None;
        }
        // SAFETY: `node` is a planner node; once is_a has checked its tag, it is the OpExpr
        // or ScalarArrayOpExpr that `op_expr` or `in_list` requires.
        unsafe {
            if is_a(node, pg_sys::NodeTag::T_OpExpr) {
                return self.op_expr(node.cast(), params);
            }
            if is_a(node, pg_sys::NodeTag::T_ScalarArrayOpExpr) {
                return self.in_list(node.cast(), params);
            }
        }
        None
    }

    /// # Safety
    /// `expr` is an OpExpr of the planner's expression trees, valid while planning.
    unsafe fn op_expr(
        &self,
        expr: *mut pg_sys::OpExpr,
        params: &mut Vec<*mut pg_sys::Expr>,
    ) -> Option<Condition> {
        // SAFETY: `expr` is the caller's live OpExpr; its args are a List of expression nodes
        // of the same tree.
        let (args, opno, collation) = unsafe {
            (
                PgList::<pg_sys::Node>::from_pg((*expr).args),
                (*expr).opno.to_u32(),
                (*expr).inputcollid,
            )
        };
        if args.len() != 2 {
            return None;
        }
        let (left, right) = (args.get_ptr(0)?, args.get_ptr(1)?);
        if opno == pg_sys::BooleanEqualOperator {
            // SAFETY: `left` and `right` are the operator's argument nodes, of the planner's
            // tree; once is_a has checked the tag, `value` is a Const, and a Const of a column
            // compared with boolean = holds a bool Datum (or is null).
            unsafe {
                let (field, value) = match self.column(left, ColumnType::Bool) {
                    Some(field) => (field, right),
                    None => (self.column(right, ColumnType::Bool)?, left),
                };
                let value = strip(value);
                if !is_a(value, pg_sys::NodeTag::T_Const) {
                    return None;
                }
                let value = value.cast::<pg_sys::Const>();
                let on = bool::from_datum((*value).constvalue, (*value).constisnull)?;
                return Some(Condition::Flag(field, on));
            }
        }
        // SAFETY: `inputcollid` is a collation OID the planner resolved, or InvalidOid.
        if !unsafe { deterministic(collation) } {
            return None;
        }
        // SAFETY: `left` and `right` are the operator's argument nodes, of the planner's tree,
        // which `column` and `operand` require.
        unsafe {
            if opno == pg_sys::TextEqualOperator {
                if let Some(field) = self.column(left, ColumnType::Text) {
                    return Some(Condition::Equals(
                        field,
                        operand(right, self.relid, params)?,
                    ));
                }
                let field = self.column(right, ColumnType::Text)?;
                return Some(Condition::Equals(field, operand(left, self.relid, params)?));
            }
            if opno == pg_sys::OID_TEXT_LIKE_OP {
                let field = self.column(left, ColumnType::Text)?;
                return Some(Condition::Like(field, operand(right, self.relid, params)?));
            }
        }
        None
    }

    /// # Safety
    /// `expr` is a ScalarArrayOpExpr of the planner's expression trees, valid while planning.
    unsafe fn in_list(
        &self,
        expr: *mut pg_sys::ScalarArrayOpExpr,
        params: &mut Vec<*mut pg_sys::Expr>,
    ) -> Option<Condition> {
        // SAFETY: `expr` is the caller's live ScalarArrayOpExpr; `inputcollid` is a collation
        // OID the planner resolved, or InvalidOid; its args are a List of expression nodes of
        // the same tree, which `column` and `strip` accept.
        let (field, array) = unsafe {
            if !(*expr).useOr
                || (*expr).opno.to_u32() != pg_sys::TextEqualOperator
                || !deterministic((*expr).inputcollid)
            {
                return None;
            }
            let args = PgList::<pg_sys::Node>::from_pg((*expr).args);
            let field = self.column(args.get_ptr(0)?, ColumnType::Text)?;
            (field, strip(args.get_ptr(1)?))
        };
        // SAFETY: `array` is NULL or a node of the planner's tree, which is_a accepts.
        let (is_const, is_array) = unsafe {
            (
                is_a(array, pg_sys::NodeTag::T_Const),
                is_a(array, pg_sys::NodeTag::T_ArrayExpr),
            )
        };
        let values = if is_const {
            let array = array.cast::<pg_sys::Const>();
            // SAFETY: `array` is a Const (checked by is_a); of type text[] (checked here) its
            // Datum is a text array, or it is null.
            unsafe {
                if (*array).consttype != pg_sys::TEXTARRAYOID {
                    return None;
                }
                let items =
                    Vec::<Option<String>>::from_datum((*array).constvalue, (*array).constisnull)?;
                items.into_iter().map(Operand::Const).collect()
            }
        } else if is_array {
            // SAFETY: `array` is an ArrayExpr (checked by is_a), whose elements are a List of
            // expression nodes of the same tree, which `operand` requires.
            unsafe {
                let elements =
                    PgList::<pg_sys::Node>::from_pg((*array.cast::<pg_sys::ArrayExpr>()).elements);
                let mut values = Vec::new();
                for element in elements.iter_ptr() {
                    values.push(operand(element, self.relid, params)?);
                }
                values
            }
        } else {
            return None;
        };
        Some(Condition::In(field, values))
    }

    /// The field of a column of this relation, when `node` is that column and it is declared
    /// with type `ty`.
    ///
    /// # Safety
    /// `node` is NULL or a node of the planner's expression trees, valid while planning.
    unsafe fn column(&self, node: *mut pg_sys::Node, ty: ColumnType) -> Option<Field> {
        // SAFETY: `node` is NULL or a planner node (caller's contract); once is_a has checked
        // its tag it is a Var.
        let (varno, varlevelsup, varattno) = unsafe {
            let node = strip(node);
            if !is_a(node, pg_sys::NodeTag::T_Var) {
                return None;
            }
            let var = node.cast::<pg_sys::Var>();
            ((*var).varno, (*var).varlevelsup, (*var).varattno)
        };
        if varno as u32 != self.relid || varlevelsup != 0 || varattno <= 0 {
            return None;
        }
        let index = varattno as usize - 1;
        let column = self.columns.iter().find(|c| c.index == index)?;
        (column.ty == ty).then(|| column.field.clone())
    }
}

/// # Safety
/// `collation` is InvalidOid or the OID of an existing collation (as the planner resolves an
/// expression's input collation); get_collation_isdeterministic raises an ERROR otherwise.
unsafe fn deterministic(collation: pg_sys::Oid) -> bool {
    // SAFETY: a valid collation OID (checked against InvalidOid here), as the caller guarantees.
    collation != pg_sys::InvalidOid && unsafe { pg_sys::get_collation_isdeterministic(collation) }
}

/// A constant's text, or a parameter to evaluate at execution: a query parameter, or a column
/// of another relation (the outer side of a parameterized join path, or a lateral reference).
///
/// # Safety
/// `node` is NULL or a node of the planner's expression trees, valid while planning.
unsafe fn operand(
    node: *mut pg_sys::Node,
    relid: u32,
    params: &mut Vec<*mut pg_sys::Expr>,
) -> Option<Operand> {
    // SAFETY: `node` is NULL or a planner node (caller's contract).
    let node = unsafe { strip(node) };
    // SAFETY: as above.
    if unsafe { is_a(node, pg_sys::NodeTag::T_Const) } {
        let value = node.cast::<pg_sys::Const>();
        // SAFETY: `value` is a Const (checked by is_a); of type text or varchar (checked here)
        // and not null, its Datum is a text varlena, which text_to_cstring copies into a
        // palloc'd NUL-terminated string in the current memory context.
        unsafe {
            if !matches!((*value).consttype, pg_sys::TEXTOID | pg_sys::VARCHAROID) {
                return None;
            }
            if (*value).constisnull {
                return Some(Operand::Const(None));
            }
            let text = pg_sys::text_to_cstring((*value).constvalue.cast_mut_ptr());
            return Some(Operand::Const(Some(
                CStr::from_ptr(text).to_string_lossy().into_owned(),
            )));
        }
    }
    // SAFETY: `node` is a planner node: every caller passes an argument of an OpExpr or an
    // element of an ArrayExpr, which are never NULL (and strip keeps a node non-null); its
    // tag says which node type to read it as.
    let text_typed = unsafe {
        match (*node).type_ {
            pg_sys::NodeTag::T_Param => (*node.cast::<pg_sys::Param>()).paramtype,
            pg_sys::NodeTag::T_Var => {
                let var = node.cast::<pg_sys::Var>();
                if (*var).varno as u32 == relid || (*var).varlevelsup != 0 {
                    return None;
                }
                (*var).vartype
            }
            _ => return None,
        }
    };
    if !matches!(text_typed, pg_sys::TEXTOID | pg_sys::VARCHAROID) {
        return None;
    }
    params.push(node.cast());
    Some(Operand::Param(params.len() - 1))
}
