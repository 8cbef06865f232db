"""Split jobs: plan the segments, run one segment, join them. Every step is safe to repeat and can run
on any worker; compare-and-swap claims in the database decide who does what."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable

from app.pipeline import enhancer_for, probe
from app.pipeline.atomic import atomic_output
from app.pipeline.segments import join_segments, plan_segments
from app.pipeline.video import enhance_video
from models.errors import Canceled, EnhanceError

from .runner import Watch, pipeline_options
from .store import JobStore, SegmentStore

log = logging.getLogger("app.jobs")

Dispatch = Callable[[str, int], None]  # (job_id, segment index) -> send the segment to the queue


def plan_or_resume(
    store: JobStore, storage, settings, job_id: str, claim: str, worker: str, dispatch: Dispatch
) -> bool:
    """For a job this worker just claimed: split it (or resume its split); False when it runs whole."""
    segments = SegmentStore(store)
    job = store.get(job_id)
    if job.segment_count:  # taken up again after the worker that planned or joined it died
        for index in segments.requeue_unfinished(job_id):
            dispatch(job_id, index)
        token = segments.take_join(job_id, worker)
        if token:
            join(store, storage, job_id, token)
        return True
    threshold = settings.segment_frames
    if (
        not threshold
        or job.media.get("kind") != "video"
        or not job.frames_total
        or job.frames_total <= threshold
    ):
        return False
    plans = plan_segments(job.input_path, threshold, job.options.get("frames"))
    if len(plans) < 2:
        return False  # no keyframe to cut at
    if segments.create(job_id, claim, plans):
        log.info("job split into %d segments", len(plans), extra={"job_id": job_id})
        for plan in plans:
            dispatch(job_id, plan.index)
    return True


def run_segment(store: JobStore, storage, settings, job_id: str, index: int, worker: str) -> None:
    """Claim and enhance one segment; the worker that finishes the last one joins them."""
    segments = SegmentStore(store)
    token = segments.claim(job_id, index, worker)
    if token is None:
        return  # already taken, done, or the job ended
    job = store.get(job_id)
    every = segments.all(job_id)
    segment = next(s for s in every if s.index == index)
    extra = {"job_id": job_id}
    options = pipeline_options(job.options, settings.device)
    watch = Watch(
        lambda: segments.heartbeat(job_id, index, token),
        lambda p: segments.progress(job_id, index, token, p.frames_done),
        settings.heartbeat_seconds,
        f"{job_id}-{index}",
    )
    # NUT keeps every timestamp exact; MP4 would round a segment's start to its edit list's millisecond
    # timescale, and the joined video would drift by a fraction of a frame at each join.
    path = storage.segment_path(job_id, index, "nut")
    try:
        info = probe(job.input_path)
        enhancer = enhancer_for(options)
        with atomic_output(path) as tmp:
            run = enhance_video(
                job.input_path,
                tmp,
                enhancer,
                options,
                info,
                watch.progress,
                watch.should_stop,
                window=(segment.start_pts, segment.end_pts),
                window_frames=segment.frames_total,
                # a temporal stage reads past the segment's end, never past the job's (a --frames preview)
                stop=every[-1].end_pts,
                warmup=settings.segment_warmup,
            )
    except Canceled:
        log.info("segment %d stopped: canceled or taken over", index, extra=extra)
        return
    except EnhanceError as exc:
        log.warning("segment %d failed: %s", index, exc.detail, extra=extra)
        segments.fail_job(job_id, exc.to_dict())  # announces the job's end
        return
    except Exception as exc:  # noqa: BLE001 - a bug fails this job with a reason, the worker lives on
        log.exception("segment %d crashed", index, extra=extra)
        segments.fail_job(
            job_id,
            {"type": "internal-error", "title": "Internal error", "detail": f"{type(exc).__name__}: {exc}"},
        )
        return
    finally:
        watch.close()
    if not segments.finish(job_id, index, token, str(path), run.frames):
        return
    log.info("segment %d done: %d frames", index, run.frames, extra=extra)
    join_token = segments.take_join(job_id, worker)
    if join_token:
        join(store, storage, job_id, join_token)


def join(store: JobStore, storage, job_id: str, claim: str) -> None:
    """Join the finished segments into the result, once (``claim`` was won by exactly one worker)."""
    segments = SegmentStore(store).all(job_id)
    job = store.get(job_id)
    result = storage.result_path(job_id, job.options.get("container", "mp4"))
    try:
        rotation = probe(job.input_path).rotation
        with atomic_output(result) as tmp:
            frames = join_segments(
                job.input_path,
                [s.path for s in segments],
                tmp,
                rotation,
                segments[-1].end_pts if job.options.get("frames") else None,
            )
    except EnhanceError as exc:
        store.fail(job_id, claim, exc.to_dict())
        return
    if store.succeed(job_id, claim, str(result), frames):
        log.info(
            "job succeeded: %d segments joined, %d frames", len(segments), frames, extra={"job_id": job_id}
        )
    shutil.rmtree(storage.segments_dir(job_id), ignore_errors=True)
