%% The BEAM side of ferrotp's conformance tests (tests/conformance/main.rs).
%%
%% Reads one script per line on stdin (an Erlang term, see script.rs), runs
%% it, and prints one trace term per script on stdout. One erl run serves a
%% whole test run.
%%
%% A script runs step by step: a coordinator sends each step's operation
%% to the process that acts, waits for its ack (or its end), then waits
%% until the system is quiescent: no live process still holds a link or a
%% monitor to a dead one (so every exit signal and 'DOWN' was handled), and
%% every live process answered a sync message sent after that (so it has
%% recorded everything before). Each process reports what it observes to
%% the coordinator as it happens; the coordinator files it under the step.
-module(conform_interp).
-export([main/0]).

-define(QUIESCENCE_LIMIT_MS, 10000).

main() ->
    logger:set_primary_config(level, none),
    io:put_chars("ready\n"),
    serve().

serve() ->
    case io:get_line('') of
        eof -> halt(0);
        {error, _} -> halt(1);
        Line ->
            {ok, Tokens, _} = erl_scan:string(Line),
            {ok, {script, Id, Initial, Steps}} = erl_parse:parse_term(Tokens),
            io:format("~w.~n", [{trace, Id, run(Initial, Steps)}]),
            serve()
    end.

%% A fresh coordinator per script, so nothing of one script reaches the next.
run(Initial, Steps) ->
    Parent = self(),
    {C, M} = spawn_monitor(fun() -> Parent ! {result, self(), coordinate(Initial, Steps)} end),
    receive
        {result, C, Trace} -> erlang:demonitor(M, [flush]), Trace;
        {'DOWN', M, process, C, Why} -> {coordinator_crashed, other(Why)}
    end.

%% ---- the coordinator ----

coordinate(Initial, Steps) ->
    S0 = #{pids => #{}, idx => #{}, mrefs => #{}, fates => #{}, mons => #{},
           mon_refs => #{}, events => [], outcomes => [], step => -1},
    C = self(),
    S1 = lists:foldl(fun(_, S) -> add_proc(spawn(fun() -> loop(C) end), S) end,
                     S0, lists:seq(1, Initial)),
    S2 = run_steps(0, Steps, S1),
    [exit(P, kill) || {I, P} <- maps:to_list(maps:get(pids, S2)), maps:get(I, maps:get(fates, S2)) =:= alive],
    N = maps:size(maps:get(pids, S2)),
    Procs = [{fate(I, S2), lists:reverse([{St, E} || {J, St, E} <- maps:get(events, S2), J =:= I])}
             || I <- lists:seq(0, N - 1)],
    {lists:reverse(maps:get(outcomes, S2)), Procs}.

fate(I, S) ->
    case maps:get(I, maps:get(fates, S)) of
        alive -> alive;
        never -> never;
        {died, Step, R} -> {died, Step, R}
    end.

add_proc(Pid, S = #{pids := Pids, idx := Idx, mrefs := MRefs, fates := Fates}) ->
    I = maps:size(Pids),
    M = erlang:monitor(process, Pid),
    S#{pids := Pids#{I => Pid}, idx := Idx#{Pid => I}, mrefs := MRefs#{M => I}, fates := Fates#{I => alive}}.

%% A process that never ran: its spawner was dead at that step.
add_never(S = #{pids := Pids, idx := Idx, fates := Fates}) ->
    {Pid, M} = spawn_monitor(fun() -> ok end),
    receive {'DOWN', M, process, Pid, _} -> ok end,
    I = maps:size(Pids),
    S#{pids := Pids#{I => Pid}, idx := Idx#{Pid => I}, fates := Fates#{I => never}}.

run_steps(_, [], S) -> S;
run_steps(I, [Step | Rest], S) ->
    case run_step(I, Step, S#{step := I}) of
        {stuck, S1} -> S1#{outcomes := [stuck | maps:get(outcomes, S1)]};
        {Outcome, S1} -> run_steps(I + 1, Rest, S1#{outcomes := [Outcome | maps:get(outcomes, S1)]})
    end.

run_step(I, {Actor, Sends, Action}, S) ->
    case maps:get(Actor, maps:get(fates, S)) of
        alive ->
            Pid = pid(Actor, S),
            Ref = make_ref(),
            Pid ! {op, Ref, [{pid(Q, S), N} || {Q, N} <- Sends], resolve(Action, S)},
            S1 = await_ack(Ref, Actor, Pid, I, S),
            case quiesce(erlang:monotonic_time(millisecond) + ?QUIESCENCE_LIMIT_MS, S1) of
                {ok, S2} -> {done, drain_records(S2)};
                {stuck, S2} -> {stuck, drain_records(S2)}
            end;
        _ when element(1, Action) =:= spawn -> {skipped, add_never(S)};
        _ -> {skipped, S}
    end.

pid(I, #{pids := Pids}) -> maps:get(I, Pids).

resolve({spawn, Link}, _) -> {spawn, Link};
resolve({link, Q}, S) -> {link, pid(Q, S)};
resolve({unlink, Q}, S) -> {unlink, pid(Q, S)};
resolve({monitor, Q}, S) -> {monitor, pid(Q, S)};
resolve({demonitor, M}, #{mon_refs := Refs}) -> {demonitor, maps:get(M, Refs)};
resolve({exit, Q, R}, S) -> {exit, pid(Q, S), R};
resolve({send, Q, N}, S) -> {send, pid(Q, S), N};
resolve({stop, Q}, S) -> {stop, pid(Q, S)};
resolve({register, Name, Q}, S) -> {register, Name, pid(Q, S)};
resolve(Other, _) -> Other.

%% The acting process answers, or ends (a crash, a return, an exit to itself).
await_ack(Ref, Actor, Pid, Step, S) ->
    receive
        {ack, Ref, {spawned, Child}} -> add_proc(Child, S);
        {ack, Ref, {spawned, Child, M}} ->
            monitor_made(M, Step, add_proc(Child, S));
        {ack, Ref, {monitor, M}} -> monitor_made(M, Step, S);
        {ack, Ref, ok} -> S;
        {'DOWN', M, process, Pid, R} ->
            Actor = maps:get(M, maps:get(mrefs, S)),
            died(Actor, R, S)
    end.

monitor_made(M, Step, S) ->
    S#{mons := (maps:get(mons, S))#{M => Step}, mon_refs := (maps:get(mon_refs, S))#{Step => M}}.

died(I, R, S = #{fates := Fates, step := Step}) ->
    S#{fates := Fates#{I => {died, Step, reason(R)}}}.

%% Takes the 'DOWN's already here.
collect_downs(S) ->
    receive
        {'DOWN', M, process, _, R} -> collect_downs(died(maps:get(M, maps:get(mrefs, S)), R, S))
    after 0 -> S
    end.

alive(S = #{fates := Fates}) ->
    [{I, pid(I, S)} || {I, alive} <- maps:to_list(Fates)].

quiesce(Deadline, S0) ->
    S = collect_downs(S0),
    case settled(S) of
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> {stuck, S};
                false -> erlang:yield(), quiesce(Deadline, S)
            end;
        true ->
            case sync_all(S) of
                {same, S1} -> {ok, S1};
                {changed, S1} -> quiesce(Deadline, S1)
            end
    end.

%% No live process still holds a link or a monitor to a dead one: every
%% exit signal and 'DOWN' from the dead has been handled by its receiver.
settled(S = #{fates := Fates}) ->
    Dead = maps:from_list([{pid(I, S), true} || {I, F} <- maps:to_list(Fates), F =/= alive]),
    lists:all(fun({_, P}) ->
                      case erlang:process_info(P, [links, monitors]) of
                          undefined -> false;
                          [{links, Ls}, {monitors, Ms}] ->
                              not lists:any(fun(L) -> maps:is_key(L, Dead) end, Ls)
                                  andalso not lists:any(fun({process, T}) -> maps:is_key(T, Dead);
                                                           (_) -> false end, Ms)
                      end
              end, alive(S)).

%% Every live process answers a sync sent now, or ends.
sync_all(S) ->
    Ref = make_ref(),
    Alive = alive(S),
    [P ! {sync, self(), Ref} || {_, P} <- Alive],
    lists:foldl(fun({I, P}, {Changed, Acc}) ->
                        receive
                            {synced, Ref, P} -> {Changed, Acc};
                            {'DOWN', M, process, P, R} ->
                                I = maps:get(M, maps:get(mrefs, Acc)),
                                {changed, died(I, R, Acc)}
                        end
                end, {same, S}, Alive).

drain_records(S = #{events := Events, step := Step}) ->
    receive
        {rec, Pid, E} ->
            drain_records(S#{events := [{index(Pid, S), Step, event(E, S)} | Events]})
    after 0 -> S
    end.

index(Pid, #{idx := Idx}) -> maps:get(Pid, Idx, unknown).

mon(Ref, #{mons := Mons}) -> maps:get(Ref, Mons, unknown).

event({msg, From, N}, S) -> {msg, index(From, S), N};
event({exit, From, R}, S) -> {exit, index(From, S), reason(R)};
event({down, M, Pid, R}, S) -> {down, mon(M, S), index(Pid, S), reason(R)};
event({demonitor, M, B}, S) -> {demonitor, mon(M, S), B};
event({whereis, Name, undefined}, _) -> {whereis, Name, undefined};
event({whereis, Name, Pid}, S) -> {whereis, Name, index(Pid, S)};
event({reflex, From, E}, S) -> {reflex, index(From, S), event(E, S)};
event(E, _) -> E.

%% Exit reasons as the trace names them; an uncaught error's stack is dropped.
reason(R) when R =:= normal; R =:= shutdown; R =:= killed; R =:= noproc -> R;
reason({custom, N}) when is_integer(N) -> {custom, N};
reason({{crash, N}, Stack}) when is_integer(N), is_list(Stack) -> {crash, N};
reason({noproc, Stack}) when is_list(Stack) -> noproc;
reason(R) -> other(R).

other(R) -> {other, lists:flatten(io_lib:format("~w", [R]))}.

%% ---- a script process ----

loop(C) ->
    receive
        {op, Ref, Sends, Action} ->
            [Q ! {msg, self(), N} || {Q, N} <- Sends],
            act(C, Ref, Action);
        {msg, From, N} -> rec(C, {msg, From, N}), loop(C);
        {'EXIT', From, R} -> rec(C, {exit, From, R}), reflex(C, From), loop(C);
        {'DOWN', M, process, Pid, R} -> rec(C, {down, M, Pid, R}), reflex(C, Pid), loop(C);
        %% ferrotp's Stop, as an Erlang process would implement it: answer
        %% the sender as ferrotp's runtime does, then end normally.
        {stop, From} -> From ! {stopped, self(), normal}, ok;
        {stopped, Q, R} -> rec(C, {exit, Q, R}), reflex(C, Q), loop(C);
        {sync, C, Ref} -> C ! {synced, Ref, self()}, loop(C)
    end.

rec(C, E) -> C ! {rec, self(), E}.

%% What the process does the moment it hears of an end (see `reflex` steps).
reflex(C, From) ->
    case get(reflex) of
        undefined -> ok;
        {whereis, Name} -> rec(C, {reflex, From, {whereis, Name, whereis(Name)}});
        {register, Name} ->
            rec(C, {reflex, From, {register, Name, badarg(fun() -> register(Name, self()) end)}})
    end.

ack(C, Ref) -> ack(C, Ref, ok).
ack(C, Ref, What) -> C ! {ack, Ref, What}, loop(C).

act(C, Ref, {spawn, true}) -> ack(C, Ref, {spawned, spawn_link(fun() -> loop(C) end)});
act(C, Ref, {spawn, monitor}) ->
    {Child, M} = spawn_monitor(fun() -> loop(C) end),
    ack(C, Ref, {spawned, Child, M});
act(C, Ref, {spawn, false}) -> ack(C, Ref, {spawned, spawn(fun() -> loop(C) end)});
act(C, Ref, {link, Q}) -> link(Q), ack(C, Ref);
act(C, Ref, {unlink, Q}) -> unlink(Q), ack(C, Ref);
act(C, Ref, {monitor, Q}) -> ack(C, Ref, {monitor, erlang:monitor(process, Q)});
act(C, Ref, {demonitor, M}) ->
    rec(C, {demonitor, M, erlang:demonitor(M, [flush, info])}), ack(C, Ref);
act(C, Ref, {trap_exit, B}) -> process_flag(trap_exit, B), ack(C, Ref);
act(C, Ref, {exit, Q, R}) -> exit(Q, R), ack(C, Ref);
act(_, _, {crash, N}) -> erlang:error({crash, N});
act(_, _, return) -> ok;
act(C, Ref, {send, Q, N}) -> Q ! {msg, self(), N}, ack(C, Ref);
act(C, Ref, {stop, Q}) -> Q ! {stop, self()}, ack(C, Ref);
act(C, Ref, {register, Name, Q}) -> rec(C, {register, Name, badarg(fun() -> register(Name, Q) end)}), ack(C, Ref);
act(C, Ref, {unregister, Name}) -> rec(C, {unregister, Name, badarg(fun() -> unregister(Name) end)}), ack(C, Ref);
act(C, Ref, {whereis, Name}) -> rec(C, {whereis, Name, whereis(Name)}), ack(C, Ref);
act(C, Ref, {send_named, Name, N}) ->
    rec(C, {send_named, Name, badarg(fun() -> Name ! {msg, self(), N} end)}), ack(C, Ref);
act(C, Ref, {reflex, none}) -> erase(reflex), ack(C, Ref);
act(C, Ref, {reflex, R}) -> put(reflex, R), ack(C, Ref);
act(C, Ref, none) -> ack(C, Ref).

badarg(F) ->
    try F() of _ -> ok
    catch error:badarg -> badarg
    end.
