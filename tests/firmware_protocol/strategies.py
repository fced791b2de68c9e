"""Hypothesis strategies for every protocol message (shared by the codec tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from firmware_protocol import messages as m

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
i32 = st.integers(-(2**31), 2**31 - 1)
# float32-exact values, so a round trip through the wire compares equal
f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def samples(draw: st.DrawFn, max_count: int = 40) -> m.Samples:
    channels = draw(st.integers(1, m.MAX_CHANNELS))
    count = draw(st.integers(0, max(0, min(max_count, 255 // channels))))
    raw = draw(
        st.lists(
            st.integers(m.INT24_MIN, m.INT24_MAX),
            min_size=count * channels,
            max_size=count * channels,
        )  # fmt: skip
    )
    return m.Samples(
        first_index=draw(u32), t_us=draw(u32), period_us=draw(u16),
        flags=m.SampleFlag(draw(st.integers(0, 3))),
        raw=np.asarray(raw, dtype=np.int32).reshape(count, channels),
    )  # fmt: skip


identities = st.builds(
    m.Identity,
    proto_major=u8, proto_minor=u8, fw_version=st.tuples(u8, u8, u8),
    uid=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", max_size=16),
    adc_kind=st.sampled_from(m.AdcKind), adc_bits=u8, channels=u8, rate_hz=u16,
    rate_min_hz=u16, rate_max_hz=u16, counts_per_n=f32, offset_counts=i32, max_frame=u16,
    capabilities=st.integers(0, 15).map(m.Capability),
)  # fmt: skip

messages = st.one_of(
    st.builds(m.Hello, u8, u8),
    st.just(m.Start()),
    st.just(m.Stop()),
    st.builds(m.SetRate, u16),
    st.just(m.GetStatus()),
    st.builds(m.Ping, u32),
    st.builds(m.SetLimits, i32, i32, u8),
    st.builds(m.StoreCal, f32, i32),
    identities,
    samples(),
    st.builds(m.Ack, u8, u8),
    st.builds(m.Nak, u8, u8, st.sampled_from(m.NakCode)),
    st.builds(m.Status, u32, u8, u16, u16, u16, u32),
    st.builds(m.Pong, u32, u32),
    st.builds(m.Event, st.sampled_from(m.EventKind), u32, i32),
    st.builds(m.Heartbeat, u32, u8),
)
