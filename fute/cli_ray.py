"""CLI flags of distributed catalogue jobs (``fute ingest catalogue FILE --ray [ADDRESS]``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # these modules load the engine (torch): imported only when a Ray job runs
    from ingest.ray_jobs import RayOptions

LOCAL = "local"


def add_ray_arguments(p: Any) -> None:
    """Attach ``--ray [ADDRESS]`` and the per-task resource and lease flags to a parser."""
    p.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL,
        metavar="ADDRESS",
        help="run the embedding entries as Ray tasks (extra fute-registry[ray]); no ADDRESS starts a "
        "local Ray instance, ADDRESS (auto, ray://host:10001) joins a cluster (needs PostgreSQL)",
    )
    p.add_argument("--ray-cpus", type=float, default=1.0, help="CPUs per embedding task (default 1)")
    p.add_argument("--ray-gpus", type=float, default=0.0, help="GPUs per embedding task (default 0)")
    p.add_argument("--lease-s", type=float, default=60.0, help="lease of a claimed entry (default 60 s)")
    p.add_argument("--max-attempts", type=int, default=3, help="tries per entry (default 3)")
    p.add_argument(
        "--probe-threshold",
        type=int,
        default=500,
        help="uncached probe texts of a model/prompt from which Ray Data map_batches queries it (500)",
    )
    p.add_argument(
        "--publish-every-s", type=float, default=60.0, help="driver publishes indexes this often (60 s)"
    )


def ray_options(args: argparse.Namespace) -> RayOptions:
    """RayOptions from the parsed flags."""
    from ingest.ray_jobs import RayOptions
    from ingest.ray_probes import ProbeOptions
    from ingest.ray_worker import WorkerOptions

    worker = WorkerOptions(
        lease_s=args.lease_s, max_attempts=args.max_attempts, threads=max(1, int(args.ray_cpus))
    )
    return RayOptions(
        address=None if args.ray == LOCAL else args.ray,
        num_cpus=args.ray_cpus,
        num_gpus=args.ray_gpus,
        publish_every_s=args.publish_every_s,
        worker=worker,
        probes=ProbeOptions(threshold=args.probe_threshold, num_cpus=args.ray_cpus, num_gpus=args.ray_gpus),
    )
