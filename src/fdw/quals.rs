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
    for rinfo in PgList::<pg_sys::RestrictInfo>::from_pg(clauses).iter_ptr() {
        let reader = Reader { relid, columns };
        match reader.condition((*rinfo).clause, &mut found.params) {
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

unsafe fn is_a(node: *mut pg_sys::Node, tag: pg_sys::NodeTag) -> bool {
    !node.is_null() && (*node).type_ == tag
}

/// Strip binary-compatible casts, such as varchar to text.
unsafe fn strip(mut node: *mut pg_sys::Node) -> *mut pg_sys::Node {
    while is_a(node, pg_sys::NodeTag::T_RelabelType) {
        node = (*node.cast::<pg_sys::RelabelType>()).arg.cast();
    }
    node
}

impl Reader<'_> {
    unsafe fn condition(
        &self,
        clause: *mut pg_sys::Expr,
        params: &mut Vec<*mut pg_sys::Expr>,
    ) -> Option<Condition> {
        let node = clause.cast::<pg_sys::Node>();
        if let Some(field) = self.column(node, ColumnType::Bool) {
            return Some(Condition::Flag(field, true));
        }
        if is_a(node, pg_sys::NodeTag::T_BoolExpr) {
            let expr = node.cast::<pg_sys::BoolExpr>();
            let args = PgList::<pg_sys::Node>::from_pg((*expr).args);
            if (*expr).boolop == pg_sys::BoolExprType::NOT_EXPR && args.len() == 1 {
                let field = self.column(args.get_ptr(0)?, ColumnType::Bool)?;
                return Some(Condition::Flag(field, false));
            }
            return None;
        }
        if is_a(node, pg_sys::NodeTag::T_OpExpr) {
            return self.op_expr(node.cast(), params);
        }
        if is_a(node, pg_sys::NodeTag::T_ScalarArrayOpExpr) {
            return self.in_list(node.cast(), params);
        }
        None
    }

    unsafe fn op_expr(
        &self,
        expr: *mut pg_sys::OpExpr,
        params: &mut Vec<*mut pg_sys::Expr>,
    ) -> Option<Condition> {
        let args = PgList::<pg_sys::Node>::from_pg((*expr).args);
        if args.len() != 2 {
            return None;
        }
        let (left, right) = (args.get_ptr(0)?, args.get_ptr(1)?);
        let opno = (*expr).opno.to_u32();
        if opno == pg_sys::BooleanEqualOperator {
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
        if !deterministic((*expr).inputcollid) {
            return None;
        }
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
        None
    }

    unsafe fn in_list(
        &self,
        expr: *mut pg_sys::ScalarArrayOpExpr,
        params: &mut Vec<*mut pg_sys::Expr>,
    ) -> Option<Condition> {
        if !(*expr).useOr
            || (*expr).opno.to_u32() != pg_sys::TextEqualOperator
            || !deterministic((*expr).inputcollid)
        {
            return None;
        }
        let args = PgList::<pg_sys::Node>::from_pg((*expr).args);
        let field = self.column(args.get_ptr(0)?, ColumnType::Text)?;
        let array = strip(args.get_ptr(1)?);
        let values = if is_a(array, pg_sys::NodeTag::T_Const) {
            let array = array.cast::<pg_sys::Const>();
            if (*array).consttype != pg_sys::TEXTARRAYOID {
                return None;
            }
            let items =
                Vec::<Option<String>>::from_datum((*array).constvalue, (*array).constisnull)?;
            items.into_iter().map(Operand::Const).collect()
        } else if is_a(array, pg_sys::NodeTag::T_ArrayExpr) {
            let elements =
                PgList::<pg_sys::Node>::from_pg((*array.cast::<pg_sys::ArrayExpr>()).elements);
            let mut values = Vec::new();
            for element in elements.iter_ptr() {
                values.push(operand(element, self.relid, params)?);
            }
            values
        } else {
            return None;
        };
        Some(Condition::In(field, values))
    }

    /// The field of a column of this relation, when `node` is that column and it is declared
    /// with type `ty`.
    unsafe fn column(&self, node: *mut pg_sys::Node, ty: ColumnType) -> Option<Field> {
        let node = strip(node);
        if !is_a(node, pg_sys::NodeTag::T_Var) {
            return None;
        }
        let var = node.cast::<pg_sys::Var>();
        if (*var).varno as u32 != self.relid || (*var).varlevelsup != 0 || (*var).varattno <= 0 {
            return None;
        }
        let index = (*var).varattno as usize - 1;
        let column = self.columns.iter().find(|c| c.index == index)?;
        (column.ty == ty).then(|| column.field.clone())
    }
}

unsafe fn deterministic(collation: pg_sys::Oid) -> bool {
    collation != pg_sys::InvalidOid && pg_sys::get_collation_isdeterministic(collation)
}

/// A constant's text, or a parameter to evaluate at execution: a query parameter, or a column
/// of another relation (the outer side of a parameterized join path, or a lateral reference).
unsafe fn operand(
    node: *mut pg_sys::Node,
    relid: u32,
    params: &mut Vec<*mut pg_sys::Expr>,
) -> Option<Operand> {
    let node = strip(node);
    if is_a(node, pg_sys::NodeTag::T_Const) {
        let value = node.cast::<pg_sys::Const>();
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
    let text_typed = match (*node).type_ {
        pg_sys::NodeTag::T_Param => (*node.cast::<pg_sys::Param>()).paramtype,
        pg_sys::NodeTag::T_Var => {
            let var = node.cast::<pg_sys::Var>();
            if (*var).varno as u32 == relid || (*var).varlevelsup != 0 {
                return None;
            }
            (*var).vartype
        }
        _ => return None,
    };
    if !matches!(text_typed, pg_sys::TEXTOID | pg_sys::VARCHAROID) {
        return None;
    }
    params.push(node.cast());
    Some(Operand::Param(params.len() - 1))
}
