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

Every failure ends in one line on stderr (``bbcollapse: error: ...``, status 2 for bad
arguments and refused stores, 1 for failures while running, 128 + N after signal N), never a
traceback.  --out and --device are checked before anything is sampled.  SIGINT and SIGTERM
stop the black box's processes and leave the store resumable.  A closed stdout (``| head -1``)
only drops the summary.  URLs and argv are shown and recorded with their secrets masked.  The
policies are in docs/operations.md.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import io
import logging
import os
import shlex
import signal
import sys
import tempfile
import threading
from pathlib import Path

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


def _adapter_options(
    kind: str, *, timeout: float = 300.0, http_format: str = "npy", batch_size=None, max_bytes=None
) -> dict:
    """Keyword arguments of a command (``kind`` "cmd") or HTTP adapter from the CLI's options."""
    opts = {"timeout": timeout, **({"fmt": http_format} if kind == "http" else {})}
    return {**opts, **{k: v for k, v in (("batch_size", batch_size), ("max_bytes", max_bytes)) if v is not None}}


def _resolve(spec: str, role: str, options: dict):
    """(kind, rest, adapter options, the built-in black box or None) of a SPEC for ``role``."""
    kind, rest = parse_spec(spec)
    opts = _adapter_options(kind, **options)
    if kind != "builtin":
        return kind, rest, opts, None
    return kind, rest, opts, _builtin(rest, SUBJECTS if role == "sampler" else DESCRIPTORS, role)


def _calibrated_dir(spec: str) -> str | None:
    """DIR of a ``calibrated:DIR`` SPEC, else None."""
    from .calibration.persist import CALIBRATED

    text = spec.strip()
    return text[len(CALIBRATED) :] if text.lower().startswith(CALIBRATED) else None


def resolve_sampler(spec: str, *, latent_dim: int | None = None, progress: bool | None = None, **options):
    """The sampler named by a SPEC (see the module docstring).

    ``options`` (``timeout``, ``http_format``, ``batch_size``, ``max_bytes``) apply to cmd: and
    http:// SPECs; ``progress`` to a calibrated:DIR sampler's own bar while it draws (the commands pass
    False: their own bar covers the draws).
    """
    from .blackbox import adapters

    directory = _calibrated_dir(spec)
    if directory is not None:  # a saved calibrated sampler wraps its model's SPEC
        from .calibration.persist import resolve_calibrated

        return resolve_calibrated(
            directory,
            resolve_sampler=resolve_sampler,
            resolve_descriptor=resolve_descriptor,
            progress=progress,
            **options,
        )
    kind, rest, opts, builtin = _resolve(spec, "sampler", options)
    if builtin is not None:
        return builtin
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
        return adapters.CommandGenerator(_argv(rest), latent_dim, **opts)
    return adapters.HttpGenerator(rest, latent_dim, **opts)


def resolve_descriptor(spec: str, **options):
    """The descriptor named by a SPEC (see the module docstring); ``options`` as for :func:`resolve_sampler`."""
    from .blackbox import adapters

    kind, rest, opts, builtin = _resolve(spec, "descriptor", options)
    if builtin is not None:
        return builtin
    if kind == "onnx":
        try:
            return adapters.OnnxDescriptor(rest)
        except (FileNotFoundError, ValueError) as exc:
            raise SpecError(f"{exc}; check the path in --descriptor onnx:FILE") from None
    if kind == "cmd":
        return adapters.CommandDescriptor(_argv(rest), **opts)
    return adapters.HttpDescriptor(rest, **opts)


def default_descriptor(sampler_spec: str) -> str:
    """The descriptor SPEC used when --descriptor is not given: a built-in subject's own, else identity."""
    directory = _calibrated_dir(sampler_spec)
    if directory is not None:
        from .calibration.persist import calibrated_descriptor_spec

        return calibrated_descriptor_spec(directory) or "identity"
    kind, rest = parse_spec(sampler_spec)
    name = rest.partition(":")[0]
    return name if kind == "builtin" and name in DESCRIPTORS else "identity"


def _argv(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SpecError(f"cannot split the command of a cmd: SPEC ({exc}); check its quotes") from None
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


class _Given(argparse.Action):
    """Store the value and record that the option was given (``args.given``): theta and r not given may come
    from the subject (:func:`bbcollapse.cli_diagnose.subject_theta_r`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = getattr(namespace, "given", frozenset()) | {self.dest}


def config_option(parser: argparse.ArgumentParser, defaults, flag: str, *, help: str, **kwargs) -> None:
    """Add ``flag`` whose default is the same-named field of the DiagnoseConfig ``defaults`` (said in its help)."""
    default = getattr(defaults, flag.lstrip("-").replace("-", "_"))
    parser.add_argument(flag, default=default, help=f"{help} (default {default})", **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The ``bbcollapse`` argument parser; diagnose's defaults are :class:`~bbcollapse.DiagnoseConfig`'s."""
    from .cli_diagnose import add_extra_options
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
        "--out",
        required=True,
        metavar="DIR",
        help="directory for report.json, report.html, curves.png and mccs_hist.png",
    )
    config_option(d, defaults, "--seed", type=_nonneg_int, help="base seed")
    rule = (
        " (default: the built-in subject's own, the documented rule's value measured for its descriptor, else {}; "
        "'bbcollapse choose-theta' measures it for yours)"
    )
    for flag, text in (("--theta", "similarity kernel width (Eq. 3)"), ("--r", "radius of I_w's count and of modes")):
        default = getattr(defaults, flag[2:])
        d.add_argument(flag, type=_distance, default=default, action=_Given, help=text + rule.format(default))
    config_option(d, defaults, "--top", type=_positive_int, help="number of distinct dense modes to report")
    config_option(
        d,
        defaults,
        "--form",
        choices=MCCS_FORMS,
        help="MCCS formula: the authors' code 1/(-log10 m) or the paper's Eq. 7",
    )
    add_extra_options(d, defaults, config_option, _positive_int, _nonneg_int)  # scoring, images, dask, metrics
    d.add_argument(
        "--store", metavar="DIR", help="resumable embedding store; rerun the same command to resume after a crash"
    )
    config_option(d, defaults, "--shard-size", type=_positive_int, help="samples per shard")
    d.add_argument("--latent-dim", type=_positive_int, help="latent dimension L of an ONNX/command/HTTP generator")
    d.add_argument(
        "--timeout", type=float, default=300.0, help="seconds a command run or an HTTP request may take (default 300)"
    )
    d.add_argument(
        "--http-format", choices=("npy", "json"), default="npy", help="body format for http:// specs (default npy)"
    )
    d.add_argument("--batch-size", type=_positive_int, help="rows per command run or HTTP request (default 1024 / 512)")
    d.add_argument(
        "--max-bytes",
        type=_positive_int,
        help="largest answer read from one command run or HTTP request (default 268435456)",
    )
    d.add_argument(
        "--model-version",
        metavar="TEXT",
        help="version of an onnx/cmd/http model, recorded in its identity: set it when the model changes "
        "outside the files named in the SPEC",
    )
    d.add_argument(
        "--no-probe",
        action="store_true",
        help="with --store, skip the check that the model still answers a fixed probe batch as it did "
        "(for models that are not deterministic)",
    )
    d.add_argument("--device", help="torch device for the engine (default cuda when available)")
    d.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    from .commands import add_parsers  # calibrate, serve, choose-theta

    add_parsers(sub)
    return parser


class Interrupted(BaseException):
    """SIGTERM (or SIGINT) arrived: unwinds like KeyboardInterrupt, so that black boxes are stopped on the way."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def _fail(message: str, status: int) -> int:
    print(f"bbcollapse: error: {message}", file=sys.stderr)
    return status


def check_out(out, flag: str = "--out") -> Path:
    """--out (or ``flag``) as a directory we can write into (created if needed), checked before any sampling."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".bbcollapse-write-test-", dir=path)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise ValueError(f"{flag} {str(out)!r} is not a directory we can write: {exc.strerror or exc}") from None
    return path


def check_device(device: str) -> str:
    """--device as a torch device usable here (CUDA present for cuda), checked before any sampling."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"--device {device!r} is not a torch device ({str(exc).splitlines()[0]})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device!r}: no CUDA device is available here; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA devices")
    if dev.type not in ("cpu", "cuda"):
        try:
            torch.empty(1, device=dev)
        except Exception as exc:
            raise ValueError(f"--device {device!r} cannot be used here ({str(exc).splitlines()[0]})") from None
    return device


def _prepare(args):
    """(config, sampler, descriptor, reference) of a diagnose run, every argument checked; raises ValueError."""
    from .cli_diagnose import check_extras, config_fields, subject_theta_r
    from .diagnosis import DiagnoseConfig

    same_names = ("seed", "theta", "r", "top", "form", "shard_size")  # options named as DiagnoseConfig's fields
    config = DiagnoseConfig(
        n_anchors=args.anchors,
        n_samples=args.samples,
        **{name: getattr(args, name) for name in same_names},
        **config_fields(args),
    )
    if not args.timeout > 0:
        raise ValueError(f"--timeout must be positive; got {args.timeout}")
    check_out(args.out)
    if args.images:
        check_out(args.images, "--images")
    if args.device:
        check_device(args.device)
    opts = dict(
        timeout=args.timeout, http_format=args.http_format, batch_size=args.batch_size, max_bytes=args.max_bytes
    )
    sampler = resolve_sampler(args.sampler, latent_dim=args.latent_dim, progress=False, **opts)
    descriptor = resolve_descriptor(args.descriptor or default_descriptor(args.sampler), **opts)
    kind, rest = parse_spec(args.sampler)
    if args.model_version is not None:
        if kind == "builtin":
            raise SpecError("--model-version is for onnx:, cmd: and http:// samplers; built-ins are named by options")
        sampler.version = args.model_version
    builtin = rest.partition(":")[0] if kind == "builtin" else None
    config = subject_theta_r(args, config, sampler, descriptor, builtin)  # --theta/--r, the subject's, or generic
    return config, sampler, descriptor, check_extras(args, config, sampler, descriptor, resolve_sampler, opts)


def _run(args, config, sampler, descriptor, reference=None):
    """Sample, embed, reduce (locally or on Dask), add metrics and images, and save; returns the report's path."""
    from .cli_diagnose import finish, run_report
    from .store import check_probe

    if args.store and not args.no_probe:
        check_probe(args.store, sampler, descriptor)
    report = run_report(args, config, sampler, descriptor, **({"device": args.device} if args.device else {}))
    report, images = finish(report, args, config, sampler, descriptor, reference)
    try:
        path = report.save(args.out, images=images)
    except OSError as exc:
        raise OSError(f"cannot write the report to --out {args.out!r}: {exc.strerror or exc}") from None
    if not args.quiet:
        try:
            print(report.summary())
            images = f"; montages in {args.images}" if args.images else ""
            print(f"wrote {path}, report.html and figures in {path.parent}{images}")
            sys.stdout.flush()
        except BrokenPipeError:  # `bbcollapse ... | head -1`: the reader has what it wanted
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError, io.UnsupportedOperation):  # no file descriptor (pytest)
                pass
    return path


def _diagnose(args) -> int:
    from .blackbox import BlackBoxError
    from .store import StoreConfigError, StoreError

    try:
        prepared = _prepare(args)
    except ValueError as exc:  # SpecError is a ValueError
        return _fail(str(exc).replace("n_anchors", "--anchors").replace("n_samples", "--samples"), 2)
    except BlackBoxError as exc:  # the --images probe
        return _fail(str(exc), 1)
    try:
        _run(args, *prepared)
    except StoreConfigError as exc:
        return _fail(str(exc), 2)
    except (BlackBoxError, StoreError, ValueError) as exc:  # ValueError: e.g. a descriptor without unit vectors
        return _fail(str(exc), 1)
    except MemoryError:
        return _fail("out of memory (MemoryError); lower --samples, --shard-size, --batch-size or --max-bytes", 1)
    except OSError as exc:
        return _fail(str(exc) if not exc.strerror else f"{exc.strerror}: {exc.filename or ''}".rstrip(": "), 1)
    return 0


def main(argv=None) -> int:
    """Entry point of the ``bbcollapse`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="bbcollapse: %(levelname)s: %(message)s")
    from . import commands

    if args.command != "diagnose" and args.command not in commands.COMMANDS:
        parser.print_help()
        return 2
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupted) if main_thread else None
    try:
        if args.command != "diagnose":
            return commands.run(
                args,
                resolve_sampler=resolve_sampler,
                resolve_descriptor=resolve_descriptor,
                default_descriptor=default_descriptor,
            )
        return _diagnose(args)
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        if args.command == "serve":  # Ctrl-C or SIGTERM is how a server is meant to stop: not an error
            print(f"bbcollapse serve: stopped by {signal.Signals(signum).name}", file=sys.stderr)
            return 0
        resume = "; finished shards are kept: rerun the same command to resume" if getattr(args, "store", None) else ""
        status = _fail(f"interrupted by {signal.Signals(signum).name}{resume}", 128 + int(signum))
        if argv is None and main_thread:  # the console script: every cleanup above ran in `finally` blocks
            signal.signal(signal.SIGTERM, previous)
            _exit_now(status)
        return status
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _exit_now(status: int) -> None:
    """Exit at once after an interrupt: the black box is stopped and the store closed by now, and the
    interpreter's own teardown (torch, numba, scipy loaded) took 1.5-2.3 s more, measured, after SIGTERM."""
    import atexit

    # exit handlers (temp-dir finalizers among them) get at most 2 s: a handler that blocks must not hold the exit
    handlers = threading.Thread(target=atexit._run_exitfuncs, daemon=True)
    handlers.start()
    handlers.join(2.0)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
