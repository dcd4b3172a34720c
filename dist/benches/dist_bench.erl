%% The Erlang side of `cargo bench -p ferrotp-dist --bench dist`: compiled
%% (not evaluated line by line by the test driver, whose interpreter would
%% make the anchor a measure of erl_eval), loaded on both BEAM nodes.
-module(ferrotp_dist_bench).
-export([start_servers/0, one_way/2, round_trips/2]).

%% `esink` counts messages and answers `{done, Pid}` with `done` once all
%% earlier ones were taken; `becho` answers `gen_server:call(_, ping)`
%% with `pong`, as the ferrotp sink does.
start_servers() ->
    register(esink, spawn(fun sink/0)),
    register(becho, spawn(fun echo/0)),
    ok.

sink() ->
    receive
        {done, Pid} -> Pid ! done;
        _ -> ok
    end,
    sink().

echo() ->
    receive
        {'$gen_call', {Pid, Tag}, ping} -> Pid ! {Tag, pong};
        _ -> ok
    end,
    echo().

%% Sends N integers to `{esink, Node}`, then waits for the sink to have
%% taken them all; returns the microseconds it took.
one_way(Node, N) ->
    {Micros, ok} = timer:tc(fun() ->
        send(Node, 1, N),
        {esink, Node} ! {done, self()},
        receive done -> ok after 600000 -> timeout end
    end),
    Micros.

send(_Node, I, N) when I > N -> ok;
send(Node, I, N) ->
    {esink, Node} ! I,
    send(Node, I + 1, N).

%% N `gen_server:call`s of `ping` to `{Name, Node}`; the microseconds.
round_trips({Name, Node}, N) ->
    {Micros, ok} = timer:tc(fun() -> calls({Name, Node}, N) end),
    Micros.

calls(_To, 0) -> ok;
calls(To, N) ->
    pong = gen_server:call(To, ping, 30000),
    calls(To, N - 1).
