"""Mermaid diagrams of a flow, generated from the data (never drawn by hand)."""

from __future__ import annotations

from bot.domain.flow import Flow, Step, StepKind


def _node(step: Step) -> str:
    label = step.id if step.kind is not StepKind.QUESTION else f"{step.id}?"
    if step.kind is StepKind.END:
        return f'{step.id}(["{label}: {step.action}"])'
    if step.kind in (StepKind.CHOICE, StepKind.PROFILE):
        return f'{step.id}{{"{label}"}}'
    return f'{step.id}["{label}"]'


def mermaid(flow: Flow) -> str:
    lines = ["flowchart TD", f"  start((start)) --> {flow.start}"]
    for step in flow.steps.values():
        lines.append(f"  {_node(step)}")
        if step.ask_if is not None:
            lines.append(f"  class {step.id} conditional")
    for step in flow.steps.values():
        for answer, target in (step.goto or {}).items():
            lines.append(f"  {step.id} -->|{answer}| {target}")
        if step.next:
            label = "otherwise" if step.goto else ""
            arrow = f"-->|{label}|" if label else "-->"
            lines.append(f"  {step.id} {arrow} {step.next}")
    for interrupt in flow.interrupts:
        lines.append(f'  interrupt{{{{"any answer: {interrupt.source}"}}}} -.-> {interrupt.goto}')
    lines.append("  classDef conditional stroke-dasharray: 4 4")
    return "\n".join(lines) + "\n"
