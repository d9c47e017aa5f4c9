"""Command line: ``bbcollapse diagnose --sampler SPEC --descriptor SPEC ...``.

A SPEC names a black box:

* a built-in subject, optionally with options: ``synthetic``,
  ``synthetic:dim=64,masses=[0.05,0.02]`` (the planted-collapse sphere), ``faces`` (when
  ``bbcollapse.subjects.faces`` is installed), ``identity`` (descriptor of subjects whose
  outputs already are unit vectors);
* an ONNX file: ``onnx:path/to/model.onnx``;
* a command, split with ``shlex.split`` and run without a shell: ``cmd:python my_gen.py``
  (it reads a ``.npy`` batch on stdin and writes a ``.npy`` batch on stdout);
* an HTTP endpoint: ``http://127.0.0.1:8000/sample`` (``.npy`` bodies; ``--http-format json``).

Generators given as ONNX, command or URL receive latents ``z ~ N(0, I_L)`` drawn from the
seed; ``--latent-dim`` gives L (inferred for ONNX files with a static input shape).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import logging
import shlex
import sys

from . import __version__

__all__ = ["main", "parse_spec", "resolve_sampler", "resolve_descriptor", "SpecError", "SUBJECTS", "DESCRIPTORS"]

#: Built-in samplers: name -> "module:factory" (factory(**options) returns a sampler).
SUBJECTS = {
    "synthetic": "bbcollapse.subjects.synthetic:PlantedSphere",
    "faces": "bbcollapse.subjects.faces:FaceDCGAN",
}
#: Built-in descriptors: name -> "module:factory" (factory(**options) returns a descriptor).
DESCRIPTORS = {
    "identity": "bbcollapse.cli:_identity",
    "faces": "bbcollapse.subjects.faces:face_descriptor",  # centred by the reference mean
}


def _identity():
    """The identity descriptor (for subjects whose outputs already are unit vectors)."""
    from .blackbox import identity_descriptor

    return identity_descriptor


class SpecError(ValueError):
    """A --sampler or --descriptor SPEC that cannot be resolved (the message says how to fix it)."""


# -- specs ---------------------------------------------------------------------------
def _split_options(text: str) -> list[str]:
    """Split ``a=1,b=[1,2]`` on commas outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in (s.strip() for s in parts) if p]


def _literal(value: str):
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def parse_spec(spec: str) -> tuple[str, str]:
    """Classify a SPEC: returns (kind, rest) with kind in {"builtin", "onnx", "cmd", "http"}."""
    if not spec or not spec.strip():
        raise SpecError("empty SPEC; give a built-in name (e.g. synthetic), onnx:FILE, cmd:COMMAND or an http:// URL")
    spec = spec.strip()
    low = spec.lower()
    if low.startswith(("http://", "https://")):
        return "http", spec
    for kind in ("onnx", "cmd"):
        if low.startswith(kind + ":"):
            rest = spec[len(kind) + 1 :].strip()
            if not rest:
                what, example = ("file", "model.onnx") if kind == "onnx" else ("command", "python my_gen.py")
                raise SpecError(f"{kind}: needs a {what} after the colon, e.g. {kind}:{example}")
            return kind, rest
    if low.endswith(".onnx"):
        return "onnx", spec
    return "builtin", spec


def _builtin(spec: str, registry: dict, role: str):
    name, _, opts = spec.partition(":")
    if name not in registry:
        raise SpecError(
            f"unknown {role} {name!r}; built-ins are {sorted(registry)}, "
            "or use onnx:FILE, cmd:COMMAND or an http:// URL"
        )
    kwargs = {}
    for item in _split_options(opts):
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise SpecError(f"bad option {item!r} in {spec!r}; write options as {name}:key=value,key=value")
        kwargs[key.strip()] = _literal(value.strip())
    module_name, _, attr = registry[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(
            f"built-in {role} {name!r} is not available here ({exc}); "
            f"install its extra, e.g. pip install 'bbcollapse[{name}]'"
        ) from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise SpecError(f"built-in {role} {name!r} is not available: {module_name} has no {attr}")
    try:
        return factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"bad options for {role} {name!r}: {exc}") from None


def resolve_sampler(spec: str, *, latent_dim: int | None = None, timeout: float = 300.0, http_format: str = "npy"):
    """The sampler named by a SPEC (see the module docstring)."""
    from .blackbox import adapters

    kind, rest = parse_spec(spec)
    if kind == "builtin":
        return _builtin(rest, SUBJECTS, "sampler")
    if kind == "onnx":
        try:
            return adapters.OnnxGenerator(rest, latent_dim=latent_dim)
        except FileNotFoundError as exc:
            raise SpecError(f"{exc}; check the path in --sampler onnx:FILE") from None
        except ValueError as exc:
            hint = "add --latent-dim L" if "latent_dim" in str(exc) else "check that the file is an ONNX model"
            raise SpecError(f"{exc}; {hint}") from None
    if latent_dim is None:
        raise SpecError(
            f"--latent-dim is required for a {kind} sampler (the number of latent dimensions the generator reads)"
        )
    if kind == "cmd":
        argv = _argv(rest)
        return adapters.CommandGenerator(argv, latent_dim, timeout=timeout)
    return adapters.HttpGenerator(rest, latent_dim, timeout=timeout, fmt=http_format)


def resolve_descriptor(spec: str, *, timeout: float = 300.0, http_format: str = "npy"):
    """The descriptor named by a SPEC (see the module docstring)."""
    from .blackbox import adapters

    kind, rest = parse_spec(spec)
    if kind == "builtin":
        return _builtin(rest, DESCRIPTORS, "descriptor")
    if kind == "onnx":
        try:
            return adapters.OnnxDescriptor(rest)
        except (FileNotFoundError, ValueError) as exc:
            raise SpecError(f"{exc}; check the path in --descriptor onnx:FILE") from None
    if kind == "cmd":
        return adapters.CommandDescriptor(_argv(rest), timeout=timeout)
    return adapters.HttpDescriptor(rest, timeout=timeout, fmt=http_format)


def default_descriptor(sampler_spec: str) -> str:
    """The descriptor SPEC used when --descriptor is not given: a built-in subject's own, else identity."""
    kind, rest = parse_spec(sampler_spec)
    name = rest.partition(":")[0]
    return name if kind == "builtin" and name in DESCRIPTORS else "identity"


def _argv(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SpecError(f"cannot split command {command!r}: {exc}; check its quotes") from None
    if not argv:
        raise SpecError("cmd: needs a command, e.g. cmd:python my_gen.py")
    return argv


# -- argument parsing ----------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (exit status 2), no usage dump."""

    def error(self, message):
        self.exit(2, f"bbcollapse: error: {message} (see '{self.prog} --help')\n")


def _int_at_least(low: int, what: str):
    """An argparse type: an integer >= ``low``, with an error that names what was expected."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {value}")
        return value

    parse.__name__ = f"{what} integer"  # argparse names the type in some messages
    return parse


_positive_int = _int_at_least(1, "positive")
_nonneg_int = _int_at_least(0, "non-negative")


def _distance(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a normalised angular distance in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a normalised angular distance in (0, 1], got {value}")
    return value


def config_option(parser: argparse.ArgumentParser, defaults, flag: str, *, help: str, **kwargs) -> None:
    """Add ``flag`` whose default is the same-named field of the DiagnoseConfig ``defaults`` (said in its help)."""
    default = getattr(defaults, flag.lstrip("-").replace("-", "_"))
    parser.add_argument(flag, default=default, help=f"{help} (default {default})", **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The ``bbcollapse`` argument parser; diagnose's defaults are :class:`~bbcollapse.DiagnoseConfig`'s."""
    from .diagnosis.config import DiagnoseConfig
    from .stats import MCCS_FORMS

    defaults = DiagnoseConfig()  # the one table of defaults, shared with the Python API and Dask
    parser = _Parser(
        prog="bbcollapse",
        description="Black-box diagnosis of intra-mode collapse in generative models (Wu et al., ACM TOMM 2021).",
        epilog="Example: bbcollapse diagnose --sampler synthetic --anchors 1000 --samples 20000 --out results/",
    )
    parser.add_argument("--version", action="version", version=f"bbcollapse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    d = sub.add_parser(
        "diagnose",
        help="MCCS of the worst-case and top distinct dense modes, mu and sigma; writes report.json and figures",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument(
        "--sampler",
        required=True,
        metavar="SPEC",
        help="the generator: synthetic[:opts], onnx:FILE, cmd:COMMAND or http(s)://URL",
    )
    d.add_argument(
        "--descriptor",
        metavar="SPEC",
        help="maps outputs to unit vectors: a built-in (default: the subject's own, e.g. faces, else identity), "
        "onnx:FILE, cmd:COMMAND or URL",
    )
    d.add_argument(
        "--anchors", required=True, type=_positive_int, metavar="N", help="|A|, number of anchors scored (>= 2)"
    )
    d.add_argument(
        "--samples",
        required=True,
        type=_positive_int,
        metavar="M",
        help="|C|, number of samples each anchor is compared with",
    )
    d.add_argument(
        "--out", required=True, metavar="DIR", help="directory for report.json, curves.png and mccs_hist.png"
    )
    config_option(d, defaults, "--seed", type=_nonneg_int, help="base seed")
    config_option(d, defaults, "--theta", type=_distance, help="similarity kernel width")
    config_option(d, defaults, "--r", type=_distance, help="neighbourhood radius for I_w and for distinct modes")
    config_option(d, defaults, "--top", type=_positive_int, help="number of distinct dense modes to report")
    config_option(
        d,
        defaults,
        "--form",
        choices=MCCS_FORMS,
        help="MCCS formula: the authors' code 1/(-log10 m) or the paper's Eq. 7",
    )
    d.add_argument(
        "--store", metavar="DIR", help="resumable embedding store; rerun the same command to resume after a crash"
    )
    config_option(d, defaults, "--shard-size", type=_positive_int, help="samples per shard")
    d.add_argument("--latent-dim", type=_positive_int, help="latent dimension L of an ONNX/command/HTTP generator")
    d.add_argument("--timeout", type=float, default=300.0, help="seconds per command run or HTTP request (default 300)")
    d.add_argument(
        "--http-format", choices=("npy", "json"), default="npy", help="body format for http:// specs (default npy)"
    )
    d.add_argument("--device", help="torch device for the engine (default cuda when available)")
    d.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    return parser


def _diagnose(args) -> int:
    from .blackbox import BlackBoxError
    from .diagnosis import DiagnoseConfig, diagnose
    from .store import StoreConfigError

    try:
        config = DiagnoseConfig(
            n_anchors=args.anchors,
            n_samples=args.samples,
            seed=args.seed,
            theta=args.theta,
            r=args.r,
            top=args.top,
            form=args.form,
            shard_size=args.shard_size,
        )
        if not args.timeout > 0:
            raise ValueError(f"--timeout must be positive; got {args.timeout}")
        sampler = resolve_sampler(
            args.sampler, latent_dim=args.latent_dim, timeout=args.timeout, http_format=args.http_format
        )
        descriptor = resolve_descriptor(
            args.descriptor or default_descriptor(args.sampler), timeout=args.timeout, http_format=args.http_format
        )
    except ValueError as exc:  # SpecError is a ValueError
        msg = str(exc).replace("n_anchors", "--anchors").replace("n_samples", "--samples")
        print(f"bbcollapse: error: {msg}", file=sys.stderr)
        return 2
    kw = {"device": args.device} if args.device else {}
    try:
        report = diagnose(
            sampler, descriptor, config=config, store=args.store, progress=False if args.quiet else None, **kw
        )
    except StoreConfigError as exc:
        print(f"bbcollapse: error: {exc}", file=sys.stderr)
        return 2
    except BlackBoxError as exc:
        print(f"bbcollapse: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # e.g. a descriptor that does not return unit vectors
        print(f"bbcollapse: error: {exc}", file=sys.stderr)
        return 1
    try:
        path = report.save(args.out)
    except OSError as exc:
        print(
            f"bbcollapse: error: cannot write the report to --out {args.out!r}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    if not args.quiet:
        print(report.summary())
        print(f"wrote {path} and figures in {path.parent}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``bbcollapse`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="bbcollapse: %(levelname)s: %(message)s")
    if args.command == "diagnose":
        return _diagnose(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
