"""The `labkit` command: doctor, progress, build-labs, course-map, zoo, response, data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from labkit.paths import repo_root


def _doctor(_: argparse.Namespace) -> int:
    from labkit.course.doctor import diagnose, format_findings

    findings = diagnose()
    print(format_findings(findings))
    return 0 if all(f.ok for f in findings) else 1


def _progress(args: argparse.Namespace) -> int:
    from labkit.checks import EXERCISES, progress_report
    from labkit.course.progress import format_report

    if args.plot and not args.team or args.learner and not args.export:
        print("labkit progress: --plot goes with --team DIR, --learner with --export PATH.", file=sys.stderr)
        return 2
    if args.team:
        return _team(args)
    if args.export:
        from labkit.course.handin import export_report

        out = export_report(Path(args.export), EXERCISES, learner=args.learner)
        print(f"wrote {out}: hand this file in (it carries a checksum, so do not edit it).")
        return 0
    summary = progress_report()
    print(json.dumps(summary, indent=2) if args.json else format_report(summary))
    return 0


def _team(args: argparse.Namespace) -> int:
    from labkit.course.team import format_team, load_team, plot_team, team_summary

    reports, rejected = load_team(Path(args.team))
    summary = team_summary(reports)
    if args.json:
        print(json.dumps({**summary, "rejected": rejected}, indent=2, ensure_ascii=False))
    else:
        print(format_team(summary, rejected=rejected))
    if args.plot and reports:
        print(f"plot: {plot_team(summary, Path(args.plot))}")
    return 0 if reports else 1


def _build_labs(args: argparse.Namespace) -> int:
    from labkit.course.labgen import build_labs

    root = repo_root()
    changed = build_labs(root / "solutions", root / "labs", check_only=args.check)
    for path in changed:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(root)}")
    if args.check and changed:
        print("labs/ is out of date: run `make labs` and commit the result.")
        return 1
    if not changed:
        print("labs/ is up to date.")
    return 0


def _course_map(args: argparse.Namespace) -> int:
    from labkit.course.coursemap import course_map_markdown, update_readme

    if args.write:
        changed = update_readme(repo_root() / "README.md")
        print("README.md course map " + ("updated." if changed else "already up to date."))
    else:
        print(course_map_markdown(), end="")
    return 0


def _signature_note() -> str:
    """After a command rewrote the manifest: is it signed again, or does a maintainer have to sign it?"""
    from labkit.integrity import signature_problem

    if signature_problem() is None:
        return "datasets/MANIFEST.sha256 updated and re-signed; review `git diff datasets/`."
    return (
        "datasets/MANIFEST.sha256 updated but UNSIGNED: labkit refuses to load the data until a "
        "maintainer reviews `git diff datasets/` and runs `labkit data sign` (docs/maintainers.md)."
    )


def _zoo(args: argparse.Namespace) -> int:
    from labkit.zoo import incident, registry

    if args.action == "answer-key":
        print(f"wrote {incident.write_answer_key()}")
        print(_signature_note())
        return 0
    if args.action == "list":
        for name, spec in registry.SPECS.items():
            print(f"{name:<24} {spec.architecture:<10} {spec.description}")
        return 0
    if args.action == "train":
        if not args.name:
            print("Say which model: `labkit zoo train NAME` (see `labkit zoo list`).")
            return 2
        card = registry.train_zoo_model(args.name)
        print(
            f"{card['name']}: test accuracy {card['test_accuracy']:.2%}, "
            f"weights SHA-256 {card['weights_sha256']}"
        )
        print(_signature_note())
        return 0
    if args.action == "evaluate":
        from labkit.zoo import evaluation

        if not args.name:
            print("Say which model: `labkit zoo evaluate NAME` (a digits model, see `labkit zoo list`).")
            return 2
        epsilons = args.epsilon or list(evaluation.EPSILONS)
        evaluation.evaluate_zoo_model(args.name, digits=args.digits, epsilons=epsilons)
        print(evaluation.robustness_table(args.name))
        print(_signature_note())
        return 0
    failures = 0
    for name in registry.SPECS:
        try:
            registry.load_model(name, device="cpu")
            print(f"ok      {name}")
        except Exception as error:  # noqa: BLE001 - report and continue
            failures += 1
            print(f"FAILED  {name}: {error}")
    return 1 if failures else 0


def _response(args: argparse.Namespace) -> int:
    from labkit.response.scenario import build_scenario

    description = build_scenario()
    print(
        f"wrote datasets/incident/: {description['requests']} audited requests from "
        f"{len(description['clients'])} clients, {description['training_records']} training records "
        f"({description['seconds']} s)"
    )
    print(_signature_note())
    return 0


def _data(args: argparse.Namespace) -> int:
    from labkit import integrity, signing

    if args.action == "sign":
        fingerprint = integrity.sign_manifest()
        print(f"signed datasets/{integrity.MANIFEST_NAME} with key {fingerprint}")
        return 0
    if args.action == "keygen":
        from labkit.paths import datasets_dir

        try:
            key = signing.generate_signing_key()
        except FileExistsError as error:
            print(f"labkit data: {error}", file=sys.stderr)
            return 2
        (datasets_dir() / integrity.PUBLIC_KEY_NAME).write_bytes(signing.public_key_pem(key.public_key()))
        print(f"new private key: {signing.signing_key_path()} (keep it out of the repository)")
        print(f"wrote datasets/{integrity.PUBLIC_KEY_NAME}; pin its fingerprint in labkit/integrity.py:")
        print(f'PUBLIC_KEY_FINGERPRINT = "{signing.key_fingerprint(key.public_key())}"')
        print("then run `labkit data sign` (docs/maintainers.md).")
        return 0
    from labkit.zoo.databuild import build_clinic, build_digits

    print(f"digits/digits.npz  {build_digits()}")
    print(f"clinic/clinic.npz  {build_clinic()}")
    print(_signature_note())
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and --help)."""
    top = argparse.ArgumentParser(prog="labkit", description="Helpers for the securing-ML course.")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check this machine is ready").set_defaults(run=_doctor)
    p = sub.add_parser("progress", help="print this learner's completion report")
    p.add_argument("--json", action="store_true", help="machine-readable, for a team lead")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--export", metavar="PATH", help="write the report you hand in (a file or a directory)")
    how.add_argument("--team", metavar="DIR", help="summarise the hand-in reports in DIR (team lead)")
    p.add_argument("--learner", help="with --export: the name to put on the report (default: your user)")
    p.add_argument("--plot", metavar="PNG", help="with --team: also draw the summary into this PNG")
    p.set_defaults(run=_progress)
    p = sub.add_parser("build-labs", help="generate labs/ from solutions/")
    p.add_argument("--check", action="store_true", help="only report labs that are out of date")
    p.set_defaults(run=_build_labs)
    p = sub.add_parser("course-map", help="print the course map (or --write it into README.md)")
    p.add_argument("--write", action="store_true")
    p.set_defaults(run=_course_map)
    p = sub.add_parser(
        "zoo",
        help="list, train, evaluate (worst-case robustness) or verify the pre-trained models; "
        "write the incident answer key",
    )
    p.add_argument("action", choices=["list", "train", "evaluate", "verify", "answer-key"])
    p.add_argument("name", nargs="?")
    p.add_argument(
        "--digits", type=int, default=1000, help="evaluate: how many test digits (default all 1000)"
    )
    p.add_argument(
        "--epsilon",
        type=float,
        action="append",
        help="evaluate: one L-inf epsilon (repeatable; default 0.1 0.2 0.3)",
    )
    p.set_defaults(run=_zoo)
    p = sub.add_parser(
        "response", help="regenerate the incident scenario (audit log, training set, provenance, key)"
    )
    p.add_argument("action", choices=["build-scenario"])
    p.set_defaults(run=_response)
    p = sub.add_parser(
        "data", help="rebuild the shipped datasets; sign the manifest or make a new signing key (maintainers)"
    )
    p.add_argument("action", choices=["build", "sign", "keygen"])
    p.set_defaults(run=_data)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `labkit` console script: returns the exit code (2 for a usage error, with
    argparse's message on stderr)."""
    if argv is not None and (
        not isinstance(argv, (list, tuple)) or not all(isinstance(a, str) for a in argv)
    ):
        raise TypeError(f"argv must be a list of strings such as ['zoo', 'list'] (or None), not {argv!r}.")
    try:
        args = parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed the usage and the error (or --help)
        return stop.code if isinstance(stop.code, int) else 2
    try:
        return int(args.run(args))
    except (KeyError, ValueError, RuntimeError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"labkit {args.command}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
