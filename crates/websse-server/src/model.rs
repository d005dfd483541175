//! The embedded demo "model": answers written for this project, picked by keywords in the
//! prompt, in English or Chinese, cut into word-sized tokens.

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
        (Topic::Generic, false) => EN_GENERIC.replace("{prompt}", &quote(prompt)),
        (Topic::Generic, true) => ZH_GENERIC.replace("{prompt}", &quote(prompt)),
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

/// Cut text into word-sized tokens, the way an LLM streams it: a token ends after a run of
/// whitespace, after a hyphen, or after two CJK characters (CJK punctuation goes with the
/// characters before it). Concatenating the tokens gives back the text exactly.
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
                    || (c == '-' && !n.is_whitespace())
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

const EN_WHAT: &str = "Server-Sent Events (SSE) is the web's built-in way for a server to push a stream of \
messages to a page over one ordinary HTTP response. The client makes a normal request; the server \
answers with the content type text/event-stream and simply never finishes the body. Whenever it has \
something to say, it writes a small block of text: lines such as \"event: delta\", \"id: 42\" and \
\"data: {...}\", closed by a blank line. The browser cuts the incoming bytes into these blocks and \
hands each one to your code as a message.\n\n\
Three things make it pleasant to use. First, it is plain HTTP, so proxies, load balancers, \
authentication and compression keep working as they already do. Second, the browser's EventSource \
object reconnects by itself when the connection drops, and tells the server the id of the last \
message it saw, so the server can continue where it stopped. Third, the format is text you can \
read with curl, which makes debugging easy.\n\n\
It is a one-way channel: the server talks, the client listens. That is exactly the shape of \
notifications, live scores, logs, progress bars and, as you are watching right now, an AI model \
writing its answer one token at a time.";

const EN_VERSUS: &str = "SSE and WebSocket both keep a connection open so the server can send data \
the moment it has it, but they are built for different jobs.\n\n\
SSE is one-way. The server streams text events down an ordinary HTTP response and the client \
sends anything it needs through separate, normal requests. Because it is just HTTP, it passes \
through proxies and CDNs, works with cookies and the usual auth headers, multiplexes nicely over \
HTTP/2, and the browser's EventSource reconnects and resumes (with Last-Event-ID) for free.\n\n\
WebSocket is two-way. After an HTTP upgrade handshake the connection becomes a full-duplex \
channel of frames, text or binary, in both directions. That suits chat rooms, multiplayer games \
and collaborative editors where the client talks as much as the server. The price is a separate \
protocol: you handle reconnection, resuming and heartbeats yourself, and some proxies need extra \
configuration.\n\n\
A good rule of thumb: if the client mostly listens (feeds, notifications, progress, streamed LLM \
answers like this one), choose SSE. If both sides chatter constantly or you need binary frames, \
choose WebSocket.";

const EN_RECONNECT: &str = "Reconnection is where SSE quietly does a lot of work for you.\n\n\
Each event may carry an id line. The browser remembers the last id it received. When the \
connection breaks, EventSource waits a moment and opens a new request to the same URL, adding \
the header Last-Event-ID with that remembered value. A server that keeps recent events can then \
send exactly the ones the client missed, and nothing twice.\n\n\
The server controls the waiting time with a retry line, for example \"retry: 1000\" asks for one \
second between attempts. If the server wants the client to stop trying, it answers the \
reconnection with HTTP 204 No Content; any other non-200 status or a wrong content type also \
makes EventSource give up for good.\n\n\
This demo does it too: every token you see has an id of the form stream:sequence, the answers are \
kept in memory for a few minutes, and a reconnect with Last-Event-ID continues right after the \
last token that arrived. Try cutting the connection in the middle of an answer.";

const EN_FETCH: &str = "EventSource is simple but limited: it can only send GET requests, it cannot \
set custom headers such as Authorization, and it cannot send a request body. Chat APIs usually \
need a POST with a JSON body, so many clients use fetch instead.\n\n\
The idea: call fetch with the method, headers and body you need, then read response.body, which \
is a ReadableStream of bytes. Get a reader with getReader(), and in a loop await read() to \
receive each chunk as it arrives. Decode the bytes and feed them to an SSE parser that splits \
lines, collects the fields and emits an event at every blank line. Remember that chunk \
boundaries are arbitrary: a line, or even one multi-byte character, can be split across two \
chunks, so the parser must keep state between them.\n\n\
With fetch you also take over what EventSource did for you: reconnecting after an error, waiting \
the retry delay, and sending Last-Event-ID yourself. An AbortController lets you cancel the \
request when the user navigates away. This page streams its answers exactly that way.";

const EN_GENERIC: &str = "You wrote: \"{prompt}\". I am the small built-in demo model of websse, so I \
do not really understand questions; I only know a few things about Server-Sent Events, and \
everything I say is streamed to you one token at a time over SSE.\n\n\
Try asking me what SSE is, how it differs from WebSocket, how reconnection with Last-Event-ID \
works, or how to stream a response with fetch and a ReadableStream. You can also ask in Chinese. \
If the server was started with an upstream model, real answers come from there instead, in this \
same event format.";

const ZH_WHAT: &str = "服务器发送事件（Server-Sent Events，简称 SSE）是浏览器内置的一种机制，\
让服务器通过一个普通的 HTTP 响应持续向页面推送消息。客户端发起普通请求，服务器用 \
text/event-stream 作为内容类型回应，并且一直不结束响应体。每当有新内容时，服务器就写出一小段文本，\
例如“event: delta”“id: 42”“data: {...}”这样的行，最后以一个空行结束。\
浏览器把收到的字节切分成这样的块，并把每一块作为一条消息交给你的代码。\n\n\
它好用的原因有三点：第一，它就是普通的 HTTP，代理、负载均衡、认证和压缩都照常工作；\
第二，浏览器的 EventSource 在连接断开后会自动重连，并告诉服务器最后收到的消息编号，\
服务器可以从断点继续；第三，格式是纯文本，用 curl 就能直接查看，调试很方便。\n\n\
SSE 是单向通道：服务器说，客户端听。通知、实时比分、日志、进度条，\
以及你现在看到的 AI 模型逐字输出回答，都正好是这种形态。";

const ZH_VERSUS: &str = "SSE 和 WebSocket 都会保持连接，让服务器一有数据就能立即发送，\
但它们适合的场景不同。\n\n\
SSE 是单向的。服务器通过普通的 HTTP 响应向下推送文本事件，客户端需要发送的内容则通过另外的普通请求完成。\
因为它就是 HTTP，所以能顺利通过代理和 CDN，可以使用 Cookie 和常见的认证头，在 HTTP/2 上还能很好地复用连接；\
浏览器的 EventSource 还免费提供自动重连和基于 Last-Event-ID 的续传。\n\n\
WebSocket 是双向的。经过一次 HTTP 升级握手后，连接变成全双工的帧通道，双方都可以发送文本或二进制数据。\
这适合聊天室、多人游戏和协同编辑这类客户端和服务器说得一样多的场景。\
代价是它是另一套协议：重连、续传和心跳都要自己处理，有些代理还需要额外配置。\n\n\
简单的判断方法：如果客户端主要是在听（信息流、通知、进度、像这样流式输出的大模型回答），选 SSE；\
如果双方频繁互发消息或者需要二进制帧，选 WebSocket。";

const ZH_RECONNECT: &str = "在重连这件事上，SSE 替你默默做了很多工作。\n\n\
每个事件都可以带一个 id 行，浏览器会记住最后收到的 id。连接断开后，EventSource \
会稍等片刻，然后向同一个地址重新发起请求，并在请求头 Last-Event-ID 中带上这个 id。\
只要服务器保留了最近的事件，就能准确地补发客户端错过的部分，而且不会重复。\n\n\
服务器可以用 retry 行控制等待时间，例如“retry: 1000”表示两次尝试之间间隔一秒。\
如果服务器希望客户端不再重试，就对重连请求返回 HTTP 204 No Content；\
其他非 200 的状态码或错误的内容类型也会让 EventSource 彻底放弃。\n\n\
这个演示也是这样做的：你看到的每个词元都有“流编号:序号”形式的 id，回答会在内存中保留几分钟，\
带着 Last-Event-ID 重连时会从最后收到的词元之后继续。不妨在回答中途断开连接试试看。";

const ZH_FETCH: &str = "EventSource 简单但有局限：它只能发 GET 请求，不能设置 Authorization \
之类的自定义请求头，也不能携带请求体。聊天接口通常需要带 JSON 请求体的 POST，所以很多客户端改用 fetch。\n\n\
思路是：用需要的方法、请求头和请求体调用 fetch，然后读取 response.body，它是一个字节的 ReadableStream。\
调用 getReader() 取得读取器，在循环中 await read()，数据块一到就能拿到。\
把字节解码后交给 SSE 解析器：它按行切分、收集字段，遇到空行就产出一个事件。\
要注意数据块的边界是任意的，一行文字甚至一个多字节字符都可能被拆到两个块里，\
所以解析器必须在块与块之间保存状态。\n\n\
使用 fetch 时，原本由 EventSource 负责的事情也要自己来做：出错后重连、等待 retry 指定的时间、\
自己发送 Last-Event-ID。用户离开页面时，可以用 AbortController 取消请求。这个页面就是这样流式接收回答的。";

const ZH_GENERIC: &str = "你写的是：“{prompt}”。我是 websse 内置的小型演示模型，并不真正理解问题，\
只知道一些关于服务器发送事件（SSE）的知识，而且我说的每一个词都是通过 SSE 逐个推送给你的。\n\n\
你可以问我：SSE 是什么、它和 WebSocket 有什么区别、基于 Last-Event-ID 的断线重连是怎样工作的、\
怎样用 fetch 和 ReadableStream 读取流式响应。也可以用英文提问。\
如果服务器启动时配置了上游模型，真正的回答会来自上游，并且使用同样的事件格式。";

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
        let zh = tokenize("服务器发送事件，很简单。");
        assert_eq!(zh, ["服务", "器发", "送事", "件，", "很简", "单。"]);
        assert!(tokenize(ZH_WHAT).iter().all(|t| t.chars().count() <= 12));
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
        assert!(answer("SSE 是什么？").starts_with("服务器发送事件"));
        assert!(answer("What is SSE?").starts_with("Server-Sent Events"));
        assert!(answer("你好").contains("你好"));
    }
}
