"""Benchmark tasks. Each module defines one task class; ``default_tasks`` lists the suite."""

from __future__ import annotations


def default_tasks(names: list[str] | None = None) -> list:
    """The declared suite (optionally only the tasks whose name is in ``names``)."""
    from .ising import IsingTask
    from .toy import Toy2DTask

    tasks = [Toy2DTask("8gaussians"), Toy2DTask("checkerboard", full_only=True), IsingTask()]
    try:  # tasks whose dependencies are optional parts of the package
        from .mnist import MnistTask

        tasks.append(MnistTask())
    except ImportError:
        pass
    try:
        from .ego import EgoTask

        tasks.append(EgoTask())
    except ImportError:
        pass
    if names:
        unknown = set(names) - {t.name for t in tasks}
        if unknown:
            raise ValueError(
                f"tasks: unknown task(s) {sorted(unknown)}; known: {[t.name for t in tasks]}"
            )
        tasks = [t for t in tasks if t.name in names]
    return tasks
