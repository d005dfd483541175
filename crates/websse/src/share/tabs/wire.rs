//! The cross-tab protocol as a plain Rust enum, and its encoding as a list of fields (a JS array
//! of strings and numbers on the `BroadcastChannel`, structured-cloned).
//!
//! Every message starts with [`TAG`] and [`VERSION`]: a tab of another version (an old tab after
//! a deploy) uses other lock and channel names (`websse:v1:{key}`), and anything that still
//! reaches this one with another version, or malformed, decodes to `None` and is ignored.
//! Decoding never panics, whatever the fields (tested with proptest below).

use std::time::Duration;

use crate::{ConnectionState, Disconnect, Error, Item, Message, MessageRef, Skipped};

/// The first field of every message.
pub(crate) const TAG: &str = "websse";
/// The protocol version: the second field, and part of the lock and channel names.
pub(crate) const VERSION: u32 = 1;

/// The lock and channel name for a share key.
pub(crate) fn channel_name(key: &str) -> String {
    format!("{TAG}:v{VERSION}:{key}")
}

/// One field of a message as JS sees it: what is neither a string nor a number is `Other`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Str(String),
    Num(f64),
    Other,
}

/// A message between the tabs that share a stream.
#[derive(Debug, Clone)]
pub(crate) enum Wire {
    /// A tab joined (or came back from a freeze) with the request `fingerprint`: the leader
    /// answers with `Lead` and its state.
    Hello { fingerprint: String },
    /// `leader` (a random id, new at every lead) leads the request `fingerprint`; it connected
    /// with `resume` as `Last-Event-ID` (empty: none).
    Lead {
        leader: String,
        fingerprint: String,
        resume: String,
    },
    /// The leader is alive: sent every beat, so that followers notice a silent (frozen, crashed)
    /// leader; `hidden` says its page is hidden, so that a visible follower takes over.
    Beat {
        leader: String,
        tabs: u32,
        hidden: bool,
    },
    /// An item of the leader's stream.
    Item {
        leader: String,
        item: Result<Item, Error>,
    },
}

impl Wire {
    /// The fields of this message; `None` for an item that is not relayed (sharing notices are
    /// per tab).
    pub(crate) fn encode(&self) -> Option<Vec<Field>> {
        let mut fields = vec![s(TAG), Field::Num(f64::from(VERSION))];
        match self {
            Wire::Hello { fingerprint } => fields.extend([s("hello"), s(fingerprint)]),
            Wire::Lead {
                leader,
                fingerprint,
                resume,
            } => fields.extend([s("lead"), s(leader), s(fingerprint), s(resume)]),
            Wire::Beat {
                leader,
                tabs,
                hidden,
            } => fields.extend([
                s("beat"),
                s(leader),
                Field::Num(f64::from(*tabs)),
                Field::Num(if *hidden { 1.0 } else { 0.0 }),
            ]),
            Wire::Item { leader, item } => return Wire::item_fields(leader, item),
        }
        Some(fields)
    }

    /// The fields of `Wire::Item` without moving the item into one.
    pub(crate) fn item_fields(leader: &str, item: &Result<Item, Error>) -> Option<Vec<Field>> {
        let mut fields = item_header(leader);
        encode_item(item, &mut fields)?;
        Some(fields)
    }

    /// The fields of `Wire::Item` for a message lent out of a chunk, without making an owned
    /// message of it first.
    pub(crate) fn message_fields(leader: &str, message: MessageRef<'_>) -> Vec<Field> {
        let mut fields = item_header(leader);
        encode_message(message, &mut fields);
        fields
    }

    /// A message from its fields: `None` for another protocol version, an unknown kind, or any
    /// field missing or of the wrong type.
    pub(crate) fn decode(fields: &[Field]) -> Option<Wire> {
        let r = Reader(fields);
        if r.text(0)? != TAG || r.number(1)? != f64::from(VERSION) {
            return None;
        }
        Some(match r.text(2)? {
            "hello" => Wire::Hello {
                fingerprint: r.text(3)?.to_owned(),
            },
            "lead" => Wire::Lead {
                leader: r.text(3)?.to_owned(),
                fingerprint: r.text(4)?.to_owned(),
                resume: r.text(5)?.to_owned(),
            },
            "beat" => Wire::Beat {
                leader: r.text(3)?.to_owned(),
                tabs: r.number(4)?.min(f64::from(u32::MAX)) as u32,
                hidden: r.number(5)? != 0.0,
            },
            "item" => Wire::Item {
                leader: r.text(3)?.to_owned(),
                item: decode_item(&Reader(&fields[4..]))?,
            },
            _ => return None,
        })
    }
}

fn s(text: &str) -> Field {
    Field::Str(text.to_owned())
}

fn n(number: f64) -> Field {
    Field::Num(number)
}

struct Reader<'a>(&'a [Field]);

impl Reader<'_> {
    fn text(&self, i: usize) -> Option<&str> {
        match self.0.get(i)? {
            Field::Str(text) => Some(text),
            _ => None,
        }
    }

    /// A finite, non-negative number.
    fn number(&self, i: usize) -> Option<f64> {
        match self.0.get(i)? {
            Field::Num(n) if n.is_finite() && *n >= 0.0 => Some(*n),
            _ => None,
        }
    }

    fn ms(&self, i: usize) -> Option<Duration> {
        self.number(i)
            .map(|ms| Duration::from_secs_f64(ms.min(1e15) / 1e3))
    }
}

fn item_header(leader: &str) -> Vec<Field> {
    vec![s(TAG), Field::Num(f64::from(VERSION)), s("item"), s(leader)]
}

fn encode_message(m: MessageRef<'_>, fields: &mut Vec<Field>) {
    fields.extend([s("m"), s(m.event_type()), s(m.data()), s(m.last_event_id())]);
}

fn encode_item(item: &Result<Item, Error>, fields: &mut Vec<Field>) -> Option<()> {
    match item {
        Ok(Item::Message(m)) => encode_message(MessageRef::from(m), fields),
        Ok(Item::State(state)) => {
            fields.extend([s("s"), s(state.as_str())]);
            if let ConnectionState::Reconnecting {
                attempt,
                delay,
                cause,
            } = state
            {
                let (cause, status) = match cause {
                    Disconnect::EndOfBody => ("end", 0),
                    Disconnect::Network => ("network", 0),
                    Disconnect::Status(status) => ("status", *status),
                    Disconnect::IdleTimeout => ("idle", 0),
                    Disconnect::WokeUp => ("woke", 0),
                    Disconnect::Requested => ("requested", 0),
                    Disconnect::Unauthorized => ("unauthorized", 0),
                    _ => ("unreported", 0),
                };
                fields.extend([
                    n(f64::from(*attempt)),
                    // -1: not known (the browser's EventSource does not say).
                    n(delay.map_or(-1.0, |d| d.as_secs_f64() * 1e3)),
                    s(cause),
                    n(f64::from(status)),
                ]);
            }
        }
        Ok(Item::Skipped(Skipped::TooLarge { limit })) => {
            fields.extend([s("k"), s("large"), n(*limit as f64)]);
        }
        Ok(Item::Skipped(Skipped::Lagged { count })) => {
            fields.extend([s("k"), s("lag"), n(*count as f64)]);
        }
        Ok(_) => return None,
        Err(error) => {
            let (code, value) = match error {
                Error::Status { status } => ("status", n(f64::from(*status))),
                Error::ContentType { content_type } => ("content-type", s(content_type)),
                Error::Network { message } => ("network", s(message)),
                Error::IdleTimeout { timeout } => ("idle", n(timeout.as_secs_f64() * 1e3)),
                Error::EventSourceClosed => ("closed", Field::Other),
                Error::Js { message } => ("js", s(message)),
                Error::EventSourceUnsupported(what) => ("unsupported", s(what)),
                Error::TransportNotEnabled(feature) => ("not-enabled", s(feature)),
                Error::FramingNotEnabled(feature) => ("framing-not-enabled", s(feature)),
                Error::FeatureNotEnabled(feature) => ("feature-not-enabled", s(feature)),
                Error::UnsupportedTarget => ("target", Field::Other),
                Error::SharedRequestMismatch { key } => ("mismatch", s(key)),
                // Not a stream's error (JSON is the consumer's): said as text.
                #[allow(unreachable_patterns)]
                other => ("js", s(&other.to_string())),
            };
            fields.extend([s("e"), s(code), value]);
        }
    }
    Some(())
}

/// The `&'static str`s that errors can carry, so that a relayed error is the same value.
const STATIC_TEXTS: [&str; 10] = [
    "methods other than GET",
    "custom headers",
    "a request body",
    "an on_unauthorized hook",
    "framings other than SSE",
    "a starting Last-Event-ID",
    "fetch",
    "event-source",
    "ndjson",
    "raw-text",
];

fn known(text: &str) -> Option<&'static str> {
    STATIC_TEXTS
        .iter()
        .chain(["pause-when-hidden"].iter())
        .find(|known| **known == text)
        .copied()
}

fn decode_item(r: &Reader<'_>) -> Option<Result<Item, Error>> {
    Some(match r.text(0)? {
        "m" => Ok(Item::Message(Message::new(
            r.text(1)?,
            r.text(2)?,
            r.text(3)?,
        ))),
        "s" => Ok(Item::State(match r.text(1)? {
            "connecting" => ConnectionState::Connecting,
            "open" => ConnectionState::Open,
            "paused" => ConnectionState::Paused,
            "closed" => ConnectionState::Closed,
            "reconnecting" => ConnectionState::Reconnecting {
                attempt: r.number(2)?.min(f64::from(u32::MAX)) as u32,
                delay: r.ms(3),
                cause: match r.text(4)? {
                    "end" => Disconnect::EndOfBody,
                    "network" => Disconnect::Network,
                    "status" => Disconnect::Status(r.number(5)?.min(999.0) as u16),
                    "idle" => Disconnect::IdleTimeout,
                    "woke" => Disconnect::WokeUp,
                    "requested" => Disconnect::Requested,
                    "unauthorized" => Disconnect::Unauthorized,
                    _ => Disconnect::Unreported,
                },
            },
            _ => return None,
        })),
        "k" => Ok(Item::Skipped(match r.text(1)? {
            "large" => Skipped::TooLarge {
                limit: r.number(2)? as usize,
            },
            "lag" => Skipped::Lagged {
                count: r.number(2)? as u64,
            },
            _ => return None,
        })),
        "e" => Err(match r.text(1)? {
            "status" => Error::Status {
                status: r.number(2)?.min(999.0) as u16,
            },
            "content-type" => Error::ContentType {
                content_type: r.text(2)?.to_owned(),
            },
            "network" => Error::Network {
                message: r.text(2)?.to_owned(),
            },
            "idle" => Error::IdleTimeout { timeout: r.ms(2)? },
            "closed" => Error::EventSourceClosed,
            "unsupported" => match known(r.text(2)?) {
                Some(what) => Error::EventSourceUnsupported(what),
                None => return None,
            },
            "not-enabled" => Error::TransportNotEnabled(known(r.text(2)?)?),
            "framing-not-enabled" => Error::FramingNotEnabled(known(r.text(2)?)?),
            "feature-not-enabled" => Error::FeatureNotEnabled(known(r.text(2)?)?),
            "target" => Error::UnsupportedTarget,
            "mismatch" => Error::SharedRequestMismatch {
                key: r.text(2)?.to_owned(),
            },
            _ => Error::Js {
                message: r.text(2).unwrap_or_default().to_owned(),
            },
        }),
        _ => return None,
    })
}

// proptest is a native dev-dependency: the protocol is plain Rust, tested on the host.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(wire: &Wire) -> String {
        let fields = wire.encode().expect("relayed");
        format!("{:?}", Wire::decode(&fields).expect("decodes"))
    }

    #[test]
    fn every_message_decodes_to_itself() {
        let items: Vec<Result<Item, Error>> = vec![
            Ok(Item::Message(Message::new("tick", "a\nb", "7"))),
            Ok(Item::State(ConnectionState::Open)),
            Ok(Item::State(ConnectionState::Paused)),
            Ok(Item::State(ConnectionState::Reconnecting {
                attempt: 3,
                delay: Some(Duration::from_millis(1500)),
                cause: Disconnect::Status(503),
            })),
            Ok(Item::State(ConnectionState::Reconnecting {
                attempt: 1,
                delay: None,
                cause: Disconnect::Unreported,
            })),
            Ok(Item::State(ConnectionState::Reconnecting {
                attempt: 0,
                delay: Some(Duration::ZERO),
                cause: Disconnect::WokeUp,
            })),
            Ok(Item::State(ConnectionState::Reconnecting {
                attempt: 0,
                delay: Some(Duration::ZERO),
                cause: Disconnect::Requested,
            })),
            Ok(Item::State(ConnectionState::Reconnecting {
                attempt: 0,
                delay: Some(Duration::ZERO),
                cause: Disconnect::Unauthorized,
            })),
            Err(Error::EventSourceUnsupported("an on_unauthorized hook")),
            Ok(Item::Skipped(Skipped::TooLarge { limit: 9 })),
            Ok(Item::Skipped(Skipped::Lagged { count: 4 })),
            Err(Error::Status { status: 404 }),
            Err(Error::ContentType {
                content_type: "text/html".into(),
            }),
            Err(Error::Network {
                message: "reset".into(),
            }),
            Err(Error::IdleTimeout {
                timeout: Duration::from_secs(30),
            }),
            Err(Error::EventSourceClosed),
            Err(Error::Js {
                message: "boom".into(),
            }),
            Err(Error::EventSourceUnsupported("custom headers")),
            Err(Error::TransportNotEnabled("event-source")),
            Err(Error::FramingNotEnabled("ndjson")),
            Err(Error::FeatureNotEnabled("pause-when-hidden")),
            Err(Error::UnsupportedTarget),
            Err(Error::SharedRequestMismatch { key: "k".into() }),
        ];
        for item in items {
            let wire = Wire::Item {
                leader: "L".into(),
                item,
            };
            assert_eq!(round_trip(&wire), format!("{wire:?}"));
        }
        for wire in [
            Wire::Hello {
                fingerprint: "f".into(),
            },
            Wire::Lead {
                leader: "L".into(),
                fingerprint: "f".into(),
                resume: "41".into(),
            },
            Wire::Beat {
                leader: "L".into(),
                tabs: 3,
                hidden: true,
            },
        ] {
            assert_eq!(round_trip(&wire), format!("{wire:?}"));
        }
    }

    #[test]
    fn sharing_notices_are_not_relayed() {
        let item = Ok(Item::Sharing(crate::Sharing::new(crate::Role::Leader, 2)));
        let wire = Wire::Item {
            leader: "L".into(),
            item,
        };
        assert!(wire.encode().is_none());
    }

    #[test]
    fn another_version_is_ignored() {
        let mut fields = Wire::Hello {
            fingerprint: "f".into(),
        }
        .encode()
        .unwrap();
        fields[1] = Field::Num(2.0);
        assert!(Wire::decode(&fields).is_none());
        // The unversioned format of before: ["item", epoch, "m", ...].
        let old = [s("item"), n(1.0), s("m"), s("message"), s("a"), s("1")];
        assert!(Wire::decode(&old).is_none());
        assert!(Wire::decode(&[]).is_none());
    }

    #[test]
    fn the_name_carries_the_version() {
        assert_eq!(channel_name("k"), "websse:v1:k");
    }

    fn field() -> impl Strategy<Value = Field> {
        prop_oneof![
            // Mostly the words of the protocol, so that decoding gets past the first fields.
            prop::sample::select(vec![
                "websse",
                "hello",
                "lead",
                "beat",
                "item",
                "m",
                "s",
                "k",
                "e",
                "open",
                "reconnecting",
                "status",
                "lag",
                "large",
                "unsupported",
                "not-enabled",
                "framing-not-enabled",
                "feature-not-enabled",
                "mismatch",
                "closed",
                "ndjson",
                "",
            ])
            .prop_map(|t| Field::Str(t.to_owned())),
            any::<String>().prop_map(Field::Str),
            prop::sample::select(vec![0.0, 1.0, 2.0, -1.0, f64::NAN, f64::INFINITY, 1e300])
                .prop_map(Field::Num),
            any::<f64>().prop_map(Field::Num),
            Just(Field::Other),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever another tab (or another script on the channel) posts, decoding does not
        /// panic.
        #[test]
        fn decoding_arbitrary_fields_never_panics(
            tail in prop::collection::vec(field(), 0..10),
            prefixed in any::<bool>(),
        ) {
            let mut fields = Vec::new();
            if prefixed {
                fields.extend([s(TAG), n(f64::from(VERSION))]);
            }
            fields.extend(tail);
            if let Some(wire) = Wire::decode(&fields) {
                // What decodes, encodes again to something that decodes.
                if let Some(again) = wire.encode() {
                    prop_assert!(Wire::decode(&again).is_some(), "{:?}", wire);
                }
            }
        }

        #[test]
        fn messages_round_trip(
            leader in any::<String>(),
            event in any::<String>(),
            data in any::<String>(),
            id in any::<String>(),
        ) {
            let wire = Wire::Item { leader, item: Ok(Item::Message(Message::new(event, data, id))) };
            prop_assert_eq!(round_trip(&wire), format!("{wire:?}"));
        }
    }
}
