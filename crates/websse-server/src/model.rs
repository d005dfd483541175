//! The embedded demo "model": answers written for this project, picked by keywords in the
//! prompt, in English or Chinese, cut into word-sized tokens. The answers are Markdown, the way an
//! LLM writes: each has a heading, a list, a fenced code block, a table, inline code and links, so
//! the demo shows the app's Markdown rendering.

/// What the prompt is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    WhatIsSse,
    VersusWebSocket,
    Reconnection,
    FetchStreaming,
    Generic,
}

/// Pick the topic of a prompt from keywords (English and Chinese).
pub(crate) fn topic(prompt: &str) -> Topic {
    let p = prompt.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| p.contains(w));
    if has(&["websocket", "web socket", "ws://", "双向", "全双工"]) {
        Topic::VersusWebSocket
    } else if has(&[
        "reconnect",
        "last-event-id",
        "last event id",
        "retry",
        "resume",
        "disconnect",
        "重连",
        "断线",
        "断开",
        "恢复",
        "续传",
    ]) {
        Topic::Reconnection
    } else if has(&[
        "fetch",
        "readablestream",
        "readable stream",
        "getreader",
        "post request",
        "流式读取",
    ]) {
        Topic::FetchStreaming
    } else if has(&[
        "sse",
        "server-sent",
        "server sent",
        "eventsource",
        "event source",
        "event-stream",
        "服务器推送",
        "服务端推送",
        "事件流",
    ]) {
        Topic::WhatIsSse
    } else {
        Topic::Generic
    }
}

/// Whether the text contains CJK ideographs (then the answer is in Chinese).
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}')
}

/// The written answer for a prompt.
pub(crate) fn answer(prompt: &str) -> String {
    let chinese = prompt.chars().any(is_cjk);
    let topic = topic(prompt);
    match (topic, chinese) {
        (Topic::WhatIsSse, false) => EN_WHAT.to_owned(),
        (Topic::VersusWebSocket, false) => EN_VERSUS.to_owned(),
        (Topic::Reconnection, false) => EN_RECONNECT.to_owned(),
        (Topic::FetchStreaming, false) => EN_FETCH.to_owned(),
        (Topic::WhatIsSse, true) => ZH_WHAT.to_owned(),
        (Topic::VersusWebSocket, true) => ZH_VERSUS.to_owned(),
        (Topic::Reconnection, true) => ZH_RECONNECT.to_owned(),
        (Topic::FetchStreaming, true) => ZH_FETCH.to_owned(),
        (Topic::Generic, false) => EN_GENERIC.replace("{prompt}", &escape(&quote(prompt))),
        (Topic::Generic, true) => ZH_GENERIC.replace("{prompt}", &escape(&quote(prompt))),
    }
}

/// The prompt shortened to one line of at most 60 characters.
fn quote(prompt: &str) -> String {
    let one_line: String = prompt
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(61)
        .collect();
    if one_line.chars().count() > 60 {
        let cut: String = one_line.chars().take(59).collect();
        format!("{cut}…")
    } else if one_line.is_empty() {
        "(an empty message)".to_owned()
    } else {
        one_line
    }
}

/// `text` with a backslash before every ASCII punctuation character, so that Markdown shows it
/// literally (CommonMark lets any ASCII punctuation be escaped): a quoted prompt such as
/// `**hi**` or `<b>` must read as the user typed it, not as markup.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Cut text into word-sized tokens, the way an LLM streams it: a token ends after a run of
/// whitespace, after a hyphen or a slash (so a URL comes in pieces too), or after two CJK
/// characters (CJK punctuation goes with the characters before it). Concatenating the tokens
/// gives back the text exactly.
pub(crate) fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut cjk_run = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let cjk = is_cjk(c);
        if cjk && cjk_run == 0 && !current.is_empty() && !ends_in_space(&current) {
            // A Latin word directly followed by a CJK character: split between them.
            tokens.push(std::mem::take(&mut current));
        }
        if !cjk && cjk_run > 0 && !is_cjk_punct(c) && !c.is_whitespace() {
            // CJK text followed by something else: split between them.
            tokens.push(std::mem::take(&mut current));
            cjk_run = 0;
        }
        current.push(c);
        let next = chars.peek().copied();
        if cjk {
            cjk_run += 1;
            let next_is_punct = next.is_some_and(is_cjk_punct);
            if cjk_run >= 2 && !next_is_punct {
                tokens.push(std::mem::take(&mut current));
                cjk_run = 0;
            }
            continue;
        }
        let boundary = match next {
            None => false,
            Some(n) => {
                (c.is_whitespace() && !n.is_whitespace())
                    || (matches!(c, '-' | '/') && !n.is_whitespace())
                    || (is_cjk_punct(c) && !is_cjk_punct(n))
            }
        };
        if boundary {
            tokens.push(std::mem::take(&mut current));
            cjk_run = 0;
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn ends_in_space(s: &str) -> bool {
    s.chars().next_back().is_some_and(char::is_whitespace)
}

fn is_cjk_punct(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}' | '“' | '”')
}

/// `n` synthetic tokens for benchmarks: `tok1 tok2 ...` (each with its trailing space).
pub(crate) fn bench_tokens(n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("tok{i} ")).collect()
}

const EN_WHAT: &str = r##"## What is SSE?

**Server-Sent Events** (SSE) let a server push a stream of messages to a page over one ordinary HTTP response. The client sends a normal request; the server answers with the content type `text/event-stream` and never finishes the body. Each message is a few lines of text closed by a blank line:

```text
event: delta
id: 42
data: {"text":"Hello"}
```

The browser cuts the incoming bytes into these blocks and hands each one to your code as a message.

### Why it is pleasant

- **Plain HTTP**: proxies, load balancers, cookies and compression keep working as they do.
- **It reconnects by itself**: `EventSource` retries after a drop and sends the id of the last message it saw, so the server can go on from there.
- **Readable**: `curl -N` shows a live stream in your terminal.

| Property | SSE |
| --- | --- |
| Direction | server to client |
| Payload | UTF-8 text |
| Resume | `Last-Event-ID` header |

It is a one-way channel, which is exactly the shape of notifications, logs, progress bars and, as you are watching now, a model writing its answer token by token. The format is defined in the [HTML standard](https://html.spec.whatwg.org/multipage/server-sent-events.html); MDN has a [friendly guide](https://developer.mozilla.org/en-US/docs/Web/API/Server-sent_events/Using_server-sent_events)."##;

const EN_VERSUS: &str = r##"## SSE or WebSocket?

Both keep a connection open so the server can send data the moment it has some, but they are built for different jobs.

| | SSE | WebSocket |
| --- | --- | --- |
| Direction | server to client | both ways |
| Protocol | plain HTTP | upgrade to its own framing |
| Data | UTF-8 text | text or binary frames |
| Reconnect and resume | built in | up to you |

**SSE** streams text events down an ordinary response; the client sends what it needs through separate requests. It passes through proxies and CDNs, works with cookies and the usual auth headers, and shares one HTTP/2 connection with everything else.

**WebSocket** turns the connection into a full-duplex channel after an upgrade handshake:

```js
const ws = new WebSocket("wss://example.com/room");
ws.onmessage = (event) => console.log(event.data);
ws.send("hello");
```

### A rule of thumb

1. The client mostly listens (feeds, notifications, streamed answers like this one): choose SSE.
2. Both sides talk all the time, or you need binary frames: choose WebSocket.
3. Not sure: start with SSE and `fetch`; switching later is cheap.

See [RFC 6455](https://datatracker.ietf.org/doc/html/rfc6455) for WebSocket and the [EventSource page on MDN](https://developer.mozilla.org/en-US/docs/Web/API/EventSource) for SSE."##;

const EN_RECONNECT: &str = r##"## Reconnecting without losing a token

Reconnection is where SSE quietly does a lot of work for you. Every event may carry an `id:` line, and the browser remembers the last one it received.

When the connection breaks:

1. `EventSource` waits for the retry delay (the server sets it, e.g. `retry: 1000`).
2. It opens the same URL again with the header `Last-Event-ID` set to the remembered id.
3. The server sends exactly the events after that id: nothing missed, nothing twice.

```http
GET /api/chat HTTP/1.1
Accept: text/event-stream
Last-Event-ID: 7f3a:41
```

| Server answer | What the client does |
| --- | --- |
| `200` with `text/event-stream` | goes on reading |
| `204 No Content` | stops for good |
| any other status | gives up and reports an error |

This demo works the same way: each token has an id of the form `stream:sequence`, answers are kept in memory for a few minutes, and a reconnect continues right after the last token that arrived. Try cutting the connection in the middle of an answer. The rules are in the [HTML standard's section on SSE](https://html.spec.whatwg.org/multipage/server-sent-events.html#sse-processing-model)."##;

const EN_FETCH: &str = r##"## Streaming SSE with fetch

`EventSource` is simple but limited: only `GET`, no custom headers such as `Authorization`, no request body. Chat APIs usually want a `POST` with JSON, so many clients read the stream with `fetch` instead.

### The recipe

- Call `fetch` with the method, headers and body you need.
- Read `response.body`, a [ReadableStream](https://developer.mozilla.org/en-US/docs/Web/API/ReadableStream) of bytes, chunk by chunk.
- Feed the bytes to an SSE parser that keeps its state between chunks: a line, or even one UTF-8 character, can be split across two of them.

```js
const response = await fetch("/api/chat", { method: "POST", body });
const reader = response.body.getReader();
for (;;) {
  const { value, done } = await reader.read();
  if (done) break;
  parser.feed(value);
}
```

| Job | EventSource | fetch |
| --- | --- | --- |
| Reconnect after an error | automatic | yours |
| Send `Last-Event-ID` | automatic | yours |
| Cancel | `close()` | `AbortController` |

This page streams its answers exactly that way when you pick the fetch transport. The [Fetch standard](https://fetch.spec.whatwg.org/) has the details."##;

const EN_GENERIC: &str = r##"## Hello from the demo model

You wrote: “{prompt}”. I am the small built-in demo model of websse, so I do not really understand questions; I only know a few things about Server-Sent Events, and everything I say reaches you one token at a time over SSE.

Things you can ask me:

- what SSE is;
- how it differs from WebSocket;
- how reconnection with `Last-Event-ID` works;
- how to stream a response with `fetch` and a `ReadableStream`.

| Language | Works |
| --- | --- |
| English | yes |
| 中文 | yes |

To get real answers, start the server with an upstream model; they arrive in this same event format:

```sh
websse-server --upstream http://127.0.0.1:11434/v1 --upstream-model llama3.2
```

MDN explains the format in its [guide to server-sent events](https://developer.mozilla.org/en-US/docs/Web/API/Server-sent_events)."##;

const ZH_WHAT: &str = r##"## 什么是 SSE？

**服务器发送事件**（Server-Sent Events，简称 SSE）是浏览器内置的一种机制：服务器通过一个普通的 HTTP 响应持续向页面推送消息。客户端发起普通请求，服务器用 `text/event-stream` 作为内容类型回应，并且一直不结束响应体。每条消息是几行文本，以一个空行结束：

```text
event: delta
id: 42
data: {"text":"你好"}
```

浏览器把收到的字节切分成这样的块，并把每一块作为一条消息交给你的代码。

### 它好用在哪里

- **就是普通的 HTTP**：代理、负载均衡、Cookie 和压缩都照常工作。
- **自动重连**：`EventSource` 断线后会自己重试，并告诉服务器最后收到的消息编号。
- **一眼能看懂**：用 `curl -N` 就能在终端里看到实时的流。

| 特性 | SSE |
| --- | --- |
| 方向 | 服务器到客户端 |
| 内容 | UTF-8 文本 |
| 续传 | `Last-Event-ID` 请求头 |

通知、日志、进度条，以及你现在看到的大模型逐字输出回答，都正好是这种单向的形态。格式定义见 [HTML 标准](https://html.spec.whatwg.org/multipage/server-sent-events.html)，入门可以读 [MDN 的指南](https://developer.mozilla.org/zh-CN/docs/Web/API/Server-sent_events/Using_server-sent_events)。"##;

const ZH_VERSUS: &str = r##"## SSE 还是 WebSocket？

两者都会保持连接，让服务器一有数据就能立即发送，但它们适合的场景不同。

| | SSE | WebSocket |
| --- | --- | --- |
| 方向 | 服务器到客户端 | 双向 |
| 协议 | 普通 HTTP | 升级后的独立帧协议 |
| 数据 | UTF-8 文本 | 文本或二进制帧 |
| 重连与续传 | 内置 | 自己实现 |

**SSE** 通过普通的 HTTP 响应向下推送文本事件，客户端要发送的内容走另外的普通请求。它能顺利通过代理和 CDN，可以使用 Cookie 和常见的认证头，在 HTTP/2 上还能和其他请求共用连接。

**WebSocket** 经过一次升级握手后，连接变成全双工通道：

```js
const ws = new WebSocket("wss://example.com/room");
ws.onmessage = (event) => console.log(event.data);
ws.send("你好");
```

### 简单的判断方法

1. 客户端主要在听（信息流、通知、像这样流式输出的回答）：选 SSE。
2. 双方频繁互发消息，或者需要二进制帧：选 WebSocket。
3. 拿不准：先用 SSE 加 `fetch`，以后再换代价也不大。

WebSocket 的规范见 [RFC 6455](https://datatracker.ietf.org/doc/html/rfc6455)，SSE 见 [MDN 上的 EventSource](https://developer.mozilla.org/zh-CN/docs/Web/API/EventSource)。"##;

const ZH_RECONNECT: &str = r##"## 断线重连，一个词也不丢

在重连这件事上，SSE 替你默默做了很多工作。每个事件都可以带一个 `id:` 行，浏览器会记住最后收到的那个。

连接断开后：

1. `EventSource` 先等待重试间隔（由服务器设定，例如 `retry: 1000`）。
2. 向同一个地址重新发起请求，并在请求头 `Last-Event-ID` 中带上记住的 id。
3. 服务器只补发这个 id 之后的事件：不遗漏，也不重复。

```http
GET /api/chat HTTP/1.1
Accept: text/event-stream
Last-Event-ID: 7f3a:41
```

| 服务器的回应 | 客户端的反应 |
| --- | --- |
| `200` 且类型为 `text/event-stream` | 继续读取 |
| `204 No Content` | 不再重试 |
| 其他状态码 | 放弃并报错 |

这个演示也是这样做的：每个词元都有 `流编号:序号` 形式的 id，回答会在内存中保留几分钟，重连时从最后收到的词元之后继续。不妨在回答中途断开连接试试看。处理规则见 [HTML 标准中 SSE 的处理模型](https://html.spec.whatwg.org/multipage/server-sent-events.html#sse-processing-model)。"##;

const ZH_FETCH: &str = r##"## 用 fetch 读取 SSE 流

`EventSource` 简单但有局限：只能发 `GET`，不能设置 `Authorization` 之类的请求头，也不能带请求体。聊天接口通常需要带 JSON 的 `POST`，所以很多客户端改用 `fetch` 读取事件流。

### 做法

- 用需要的方法、请求头和请求体调用 `fetch`。
- 逐块读取 `response.body`，它是一个字节的 [ReadableStream](https://developer.mozilla.org/zh-CN/docs/Web/API/ReadableStream)。
- 把字节交给在块与块之间保存状态的 SSE 解析器：一行文字甚至一个 UTF-8 字符都可能被拆到两个块里。

```js
const response = await fetch("/api/chat", { method: "POST", body });
const reader = response.body.getReader();
for (;;) {
  const { value, done } = await reader.read();
  if (done) break;
  parser.feed(value);
}
```

| 工作 | EventSource | fetch |
| --- | --- | --- |
| 出错后重连 | 自动 | 自己做 |
| 发送 `Last-Event-ID` | 自动 | 自己做 |
| 取消 | `close()` | `AbortController` |

选择 fetch 传输方式时，这个页面就是这样流式接收回答的。细节见 [Fetch 标准](https://fetch.spec.whatwg.org/)。"##;

const ZH_GENERIC: &str = r##"## 你好，我是演示模型

你写的是：“{prompt}”。我是 websse 内置的小型演示模型，并不真正理解问题，只知道一些关于服务器发送事件（SSE）的知识，而且我说的每一个词都是通过 SSE 逐个推送给你的。

你可以问我：

- SSE 是什么；
- 它和 WebSocket 有什么区别；
- 基于 `Last-Event-ID` 的断线重连是怎样工作的；
- 怎样用 `fetch` 和 `ReadableStream` 读取流式响应。

| 语言 | 支持 |
| --- | --- |
| 中文 | 是 |
| English | 是 |

如果想要真正的回答，启动服务器时配置上游模型，回答会以同样的事件格式到达：

```sh
websse-server --upstream http://127.0.0.1:11434/v1 --upstream-model llama3.2
```

格式的说明见 [MDN 的服务器发送事件指南](https://developer.mozilla.org/zh-CN/docs/Web/API/Server-sent_events)。"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_concatenate_to_the_text() {
        for text in [
            EN_WHAT,
            EN_VERSUS,
            EN_RECONNECT,
            EN_FETCH,
            ZH_WHAT,
            ZH_FETCH,
            "",
            "a",
            "  x  ",
        ] {
            assert_eq!(tokenize(text).concat(), text);
        }
    }

    #[test]
    fn tokens_are_word_sized() {
        let tokens = tokenize("Server-Sent Events are  simple.");
        assert_eq!(tokens, ["Server-", "Sent ", "Events ", "are  ", "simple."]);
        let url = tokenize("[MDN](https://developer.mozilla.org/en-US/docs)");
        assert_eq!(
            url,
            [
                "[MDN](https:/",
                "/",
                "developer.mozilla.org/",
                "en-",
                "US/",
                "docs)"
            ]
        );
        let zh = tokenize("服务器发送事件，很简单。");
        assert_eq!(zh, ["服务", "器发", "送事", "件，", "很简", "单。"]);
        // Chinese is cut every two characters even inside Markdown.
        assert!(
            tokenize(ZH_WHAT)
                .iter()
                .all(|t| t.chars().filter(|c| is_cjk(*c)).count() <= 2)
        );
    }

    #[test]
    fn topics_by_keyword() {
        assert_eq!(topic("What is SSE?"), Topic::WhatIsSse);
        assert_eq!(topic("SSE vs WebSocket"), Topic::VersusWebSocket);
        assert_eq!(topic("How does Last-Event-ID work?"), Topic::Reconnection);
        assert_eq!(topic("stream with fetch"), Topic::FetchStreaming);
        assert_eq!(topic("什么是 SSE"), Topic::WhatIsSse);
        assert_eq!(topic("断线重连"), Topic::Reconnection);
        assert_eq!(topic("hello"), Topic::Generic);
    }

    #[test]
    fn chinese_prompt_gets_chinese_answer() {
        assert!(answer("SSE 是什么？").starts_with("## 什么是 SSE？"));
        assert!(answer("What is SSE?").starts_with("## What is SSE?"));
        assert!(answer("你好").contains("你好"));
    }

    const ALL: [&str; 10] = [
        EN_WHAT,
        EN_VERSUS,
        EN_RECONNECT,
        EN_FETCH,
        EN_GENERIC,
        ZH_WHAT,
        ZH_VERSUS,
        ZH_RECONNECT,
        ZH_FETCH,
        ZH_GENERIC,
    ];

    /// Each answer shows every kind of block the app renders: a line-level check, since the
    /// server does not link a Markdown parser (the browser tests check the rendered DOM).
    #[test]
    fn every_answer_has_each_kind_of_markdown() {
        for text in ALL {
            let lines: Vec<&str> = text.lines().collect();
            let head: String = text.chars().take(40).collect();
            assert!(
                lines.iter().any(|l| l.starts_with("## ")),
                "heading: {head}"
            );
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with("- ") || l.starts_with("1. ")),
                "list: {head}"
            );
            assert!(
                lines
                    .iter()
                    .any(|l| l.len() > 3 && l.starts_with("```") && !l[3..].trim().is_empty()),
                "fence with a language: {head}"
            );
            assert_eq!(
                lines.iter().filter(|l| l.starts_with("```")).count() % 2,
                0,
                "every fence is closed: {head}"
            );
            assert!(
                lines.iter().any(|l| l.starts_with("| --- |")),
                "table: {head}"
            );
            assert!(
                lines
                    .iter()
                    .any(|l| !l.starts_with("```") && l.contains('`')),
                "inline code: {head}"
            );
            let targets: Vec<&str> = text.split("](").skip(1).collect();
            assert!(!targets.is_empty(), "a link: {head}");
            for target in targets {
                assert!(
                    target.starts_with("https://") || target.starts_with("http://"),
                    "links are http(s) only: {target}"
                );
            }
        }
    }

    #[test]
    fn answers_keep_their_length() {
        for text in ALL {
            let chars = text.chars().count();
            assert!((500..=2500).contains(&chars), "{chars}: {text}");
        }
    }

    #[test]
    fn a_quoted_prompt_is_escaped_markdown() {
        assert_eq!(escape("**hi** <b>"), "\\*\\*hi\\*\\* \\<b\\>");
        assert_eq!(escape("中文 ok"), "中文 ok");
        let text = answer("# not a *heading*");
        assert!(text.contains("“\\# not a \\*heading\\*”"), "{text}");
    }
}
