"""Admin pages for a unit's reinforcement plan and a survey's scorecard targets.

Admins only: HR takes the catalogue's recommendations into a unit's plan,
writes actions of their own, updates and deletes them, and sets the targets
the scorecard's traffic lights are measured against. ``unit`` is a department
code or ``*`` for the whole organisation. Every change is audited by
``portal.services.plans``; the printed scorecard shows what is saved here.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from portal.domain.accounts import Role
from portal.domain.errors import ValidationError
from portal.domain.scorecard import ORGANISATION, ActionStatus, PlanAction, ScorecardSettings
from portal.services import plans
from portal.web import get_store
from portal.web.admin.plan_forms import (
    ActionForm,
    AdoptForm,
    DeleteForm,
    SettingsForm,
    lever_choices,
)
from portal.web.auth.guard import current_user, require

bp = Blueprint("admin_plan", __name__, url_prefix="/admin")

WAVE = "/surveys/<slug>/waves/<wave_id>"
PLAN = WAVE + "/plan/<unit>"
NEW = "new"


def _actor() -> str:
    user = current_user()
    assert user is not None  # the guard let only a signed-in account through
    return user.email


def _prefix(action_id: str) -> str:
    return f"a-{action_id}"


def _action_form(action: PlanAction | None = None, *, submitted: bool = False) -> ActionForm:
    """Return an action's form: what was posted, or the saved action's values."""
    prefix = NEW if action is None else _prefix(action.action_id)
    if submitted:
        return ActionForm(prefix=prefix)
    data = {}
    if action is not None:
        data = {
            "title": action.title,
            "lever_id": action.lever_id,
            "owner_role": action.owner_role,
            "mandate_holder": action.mandate_holder,
            "due": action.due,
            "kpi": action.kpi,
            "kpi_target": action.kpi_target,
            "status": action.status.value,
        }
    return ActionForm(formdata=None, prefix=prefix, data=data)


def _changes(form: ActionForm) -> plans.ActionChanges:
    return plans.ActionChanges(
        title=form.title.data or "",
        lever_id=form.lever_id.data or "",
        owner_role=form.owner_role.data or "",
        mandate_holder=form.mandate_holder.data or "",
        due=form.due.data,
        kpi=form.kpi.data or "",
        kpi_target=form.kpi_target.data or "",
        status=ActionStatus(form.status.data),
    )


def _plan_page(
    slug: str,
    wave_id: str,
    unit: str,
    posted: tuple[str, ActionForm] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """Render a unit's plan; ``posted`` (an action id or ``NEW``, and the form that
    failed) keeps what was typed, errors beside the fields."""
    plan = plans.unit_plan(get_store(), slug, wave_id, unit)
    choices = lever_choices(plan.levers)
    saved = (*plan.actions, *(c.action for c in plan.carried))
    forms: dict[str, ActionForm] = {}
    for key, action in [(a.action_id, a) for a in saved] + [(NEW, None)]:
        form = posted[1] if posted is not None and posted[0] == key else _action_form(action)
        form.lever_id.choices = choices
        forms[key] = form
    return render_template(
        "admin/plan/plan.html",
        plan=plan,
        page=plan.page,
        forms=forms,
        lever_names={choice.value: choice.label for choice in choices},
        adopt=AdoptForm(formdata=None),
        delete=DeleteForm(formdata=None),
        slug=slug,
        wave_id=wave_id,
        unit=unit,
        organisation=unit == ORGANISATION,
    ), status


def _to_plan(slug: str, wave_id: str, unit: str, anchor: str | None = None) -> Response:
    return redirect(url_for(".plan", slug=slug, wave_id=wave_id, unit=unit, _anchor=anchor))


@bp.get(WAVE + "/plan")
@require(Role.ADMIN)
def units(slug: str, wave_id: str) -> str:
    """List the wave's units with how many plan actions each holds and how many are open."""
    store = get_store()
    wave, lines = plans.plan_overview(store, slug, wave_id)
    return render_template(
        "admin/plan/units.html", survey=store.get_survey(slug), wave=wave, lines=lines
    )


@bp.get(PLAN)
@require(Role.ADMIN)
def plan(slug: str, wave_id: str, unit: str) -> tuple[str, int]:
    """Show a unit's plan: this wave's actions, carried ones, recommendations, a new one."""
    return _plan_page(slug, wave_id, unit)


@bp.post(PLAN + "/adopt")
@require(Role.ADMIN)
def adopt(slug: str, wave_id: str, unit: str) -> Response:
    """Take a recommended catalogue action into the plan (once, however often it is sent)."""
    form = AdoptForm()
    if not form.validate_on_submit():
        abort(400)
    done = plans.adopt(get_store(), _actor(), slug, wave_id, unit, form.catalogue_id.data or "")
    if done.added:
        flash(f"“{done.action.title}” is in the plan now. Adjust its owner, date and KPI below.")
    else:
        flash(f"“{done.action.title}” is already in the plan; nothing was added.")
    return _to_plan(slug, wave_id, unit, f"action-{done.action.action_id}")


@bp.post(PLAN + "/actions")
@require(Role.ADMIN)
def add_action(slug: str, wave_id: str, unit: str) -> Response | tuple[str, int]:
    """Add an action HR wrote to the plan."""
    store = get_store()
    plans.opened_wave(store, slug, wave_id)
    form = _action_form(submitted=True)
    form.lever_id.choices = lever_choices(plans.levers(store, slug, wave_id))
    if form.validate_on_submit():
        try:
            action = plans.add_own(store, _actor(), slug, wave_id, unit, _changes(form))
        except ValidationError as exc:
            form.add_problems(exc.errors)
        else:
            flash(f"“{action.title}” is in the plan now.")
            return _to_plan(slug, wave_id, unit, f"action-{action.action_id}")
    return _plan_page(slug, wave_id, unit, (NEW, form), 400)


@bp.post(PLAN + "/actions/<action_id>")
@require(Role.ADMIN)
def update_action(slug: str, wave_id: str, unit: str, action_id: str) -> Response | tuple[str, int]:
    """Save changes to a saved action (this wave's or a carried one)."""
    store = get_store()
    plans.opened_wave(store, slug, wave_id)
    action = plans.wave_action(store, slug, wave_id, unit, action_id)
    form = _action_form(action, submitted=True)
    form.lever_id.choices = lever_choices(plans.levers(store, slug, wave_id))
    if form.validate_on_submit():
        try:
            changed = plans.update(store, _actor(), slug, unit, action_id, _changes(form))
        except ValidationError as exc:
            form.add_problems(exc.errors)
        else:
            flash(f"Saved “{changed.title}” ({changed.status.value}).")
            if changed.wave_id != wave_id and changed.status is ActionStatus.DROPPED:
                flash(
                    "A dropped action no longer carries over; the wave it was planned in keeps it."
                )
            return _to_plan(slug, wave_id, unit, f"action-{action_id}")
    return _plan_page(slug, wave_id, unit, (action_id, form), 400)


@bp.post(PLAN + "/actions/<action_id>/delete")
@require(Role.ADMIN)
def delete_action(slug: str, wave_id: str, unit: str, action_id: str) -> Response:
    """Delete an action from the plan (from every wave it carried over to)."""
    if not DeleteForm().validate_on_submit():
        abort(400)
    store = get_store()
    plans.opened_wave(store, slug, wave_id)
    action = plans.wave_action(store, slug, wave_id, unit, action_id)
    plans.remove(store, _actor(), slug, unit, action_id)
    flash(f"Deleted “{action.title}” from the plan.")
    return _to_plan(slug, wave_id, unit)


# -- targets ----------------------------------------------------------------------------


def _settings_form(slug: str) -> tuple[SettingsForm, list[tuple[str, str]]]:
    """Return the survey's settings form (with the stored values unless posted) and its levers."""
    store = get_store()
    levers = plans.survey_levers(store, slug)
    form_class = SettingsForm.with_levers(levers)
    stored = store.get_scorecard_settings(slug)
    data: dict[str, object] = {
        "attention": stored.attention,
        "default_target": stored.default_target,
    }
    for lever_id, target in stored.lever_targets.items():
        data[SettingsForm.field_name(lever_id)] = target
    form = form_class(data=data)
    return form, [(lever.id, SettingsForm.field_name(lever.id)) for lever in levers]


def _settings_page(
    slug: str, form: SettingsForm, fields: list[tuple[str, str]], status: int = 200
) -> tuple[str, int]:
    return render_template(
        "admin/plan/settings.html",
        survey=get_store().get_survey(slug),
        form=form,
        lever_fields=[form[name] for _, name in fields],
    ), status


@bp.get("/surveys/<slug>/scorecard-settings")
@require(Role.ADMIN)
def settings(slug: str) -> tuple[str, int]:
    """Show the survey's "needs attention" line and targets."""
    form, fields = _settings_form(slug)
    return _settings_page(slug, form, fields)


@bp.post("/surveys/<slug>/scorecard-settings")
@require(Role.ADMIN)
def save_settings(slug: str) -> Response | tuple[str, int]:
    """Save the survey's targets; past scorecards of the survey follow them too."""
    form, fields = _settings_form(slug)
    if form.validate_on_submit():
        targets = {
            lever_id: form[name].data for lever_id, name in fields if form[name].data is not None
        }
        try:
            wanted = ScorecardSettings(
                slug,
                attention=form.attention.data,
                default_target=form.default_target.data,
                lever_targets=targets,
            )
            plans.save_settings(get_store(), _actor(), wanted)
        except ValidationError as exc:
            form.add_problems(exc.errors, dict(fields))
        else:
            flash("Saved the scorecard targets. Every scorecard of this survey now uses them.")
            return redirect(url_for(".settings", slug=slug))
    return _settings_page(slug, form, fields, 400)
