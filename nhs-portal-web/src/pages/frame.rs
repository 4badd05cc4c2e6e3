//! The frame around every page: `layout.hbs`, rendered once per page after the page's own
//! template, with the frame's values and the body already rendered ([`super::Pages::render_page`]).

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde::Serialize;

/// The frame's template, rendered around every page's body.
pub(super) const FRAME: &str = "layout";

/// The field of the frame's model that holds the rendered body ([`Frame`]).
const RENDERED_BODY: &str = "rendered_body";

/// What the frame reads: its values and the page's body, already rendered.
#[derive(Serialize)]
pub(super) struct Frame<'a, L: Serialize> {
    /// The frame's values ([`super::Layout`]).
    pub(super) layout: &'a L,
    /// The page's body, rendered.
    pub(super) rendered_body: &'a str,
}

/// `{{page_body}}`, used by `layout.hbs` alone: writes the page's body as it is. The body was
/// rendered by the page's own template, which escaped every value in it; nothing else reaches
/// the frame's `rendered_body`.
#[derive(Debug, Clone, Copy)]
pub(super) struct PageBody;

impl HelperDef for PageBody {
    fn call<'reg: 'rc, 'rc>(
        &self,
        _: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let body = ctx
            .data()
            .get(RENDERED_BODY)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| RenderErrorReason::MissingVariable(Some(RENDERED_BODY.into())))?;
        out.write(body)?;
        Ok(())
    }
}
