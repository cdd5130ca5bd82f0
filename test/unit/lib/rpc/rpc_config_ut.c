/* SPDX-License-Identifier: BSD-3-Clause */
/* Configuration replay through the RPC handlers, on a live reactor. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tern_env.h"
#include "tern_reactor.h"
#include "tern_rpc.h"
#include "ut_env.h"

static char g_seen[16][32];
static int g_n;

static void
ut_cfg_record(struct tern_rpc_request *req, const json_t *params)
{
    const char *tag = json_string_value(json_object_get(params, "tag"));

    snprintf(g_seen[g_n++ % 16], 32, "%s", tag ? tag : "?");
    tern_rpc_reply(req, NULL);
}
TERN_RPC_REGISTER("ut_cfg_record", ut_cfg_record, TERN_RPC_RUNTIME)

static void
ut_cfg_fail(struct tern_rpc_request *req, const json_t *params)
{
    (void)params;
    tern_rpc_reply_error(req, TERN_RPC_INVALID_PARAMS, "bad size");
}
TERN_RPC_REGISTER("ut_cfg_fail", ut_cfg_fail, TERN_RPC_RUNTIME)

static int g_status = 1;
static int g_done_calls;

static void
done(void *ctx, int status)
{
    (void)ctx;
    g_status = status;
    g_done_calls++;
    tern_reactors_stop();
}

static void
setup(void)
{
    ut_env_init();
    cr_assert_eq(tern_reactors_init(), 0);
    tern_rpc_set_state(TERN_RPC_RUNTIME);
}

static void
teardown(void)
{
    tern_reactors_fini();
    tern_env_fini();
}

TestSuite(rpc_config, .init = setup, .fini = teardown, .timeout = 30);

static int
replay(const char *text)
{
    int rc = tern_rpc_config_load_string(text, "ut.json", done, NULL);

    if (rc == 0)
        cr_assert_eq(tern_reactors_start(), 0);
    return rc;
}

Test(rpc_config, entries_run_in_order_across_subsystems)
{
    cr_assert_eq(replay("{\"subsystems\":["
                        " {\"subsystem\":\"a\",\"config\":["
                        "   {\"method\":\"ut_cfg_record\",\"params\":{\"tag\":\"1\"}},"
                        "   {\"method\":\"ut_cfg_record\",\"params\":{\"tag\":\"2\"}}]},"
                        " {\"subsystem\":\"empty\",\"config\":null},"
                        " {\"subsystem\":\"none\"},"
                        " {\"subsystem\":\"b\",\"config\":["
                        "   {\"method\":\"ut_cfg_record\",\"params\":{\"tag\":\"3\"}}]}]}"), 0);
    cr_assert_eq(g_done_calls, 1);
    cr_assert_eq(g_status, 0);
    cr_assert_eq(g_n, 3);
    cr_assert_str_eq(g_seen[0], "1");
    cr_assert_str_eq(g_seen[1], "2");
    cr_assert_str_eq(g_seen[2], "3");
}

Test(rpc_config, the_first_failure_stops_the_replay)
{
    cr_assert_eq(replay("{\"subsystems\":[{\"subsystem\":\"a\",\"config\":["
                        " {\"method\":\"ut_cfg_record\",\"params\":{\"tag\":\"1\"}},"
                        " {\"method\":\"ut_cfg_fail\"},"
                        " {\"method\":\"ut_cfg_record\",\"params\":{\"tag\":\"never\"}}]}]}"), 0);
    cr_assert_eq(g_status, -EINVAL);
    cr_assert_eq(g_done_calls, 1);
    cr_assert_eq(g_n, 1, "nothing after the failing entry ran");
}

Test(rpc_config, unknown_methods_and_bad_entries_fail)
{
    cr_assert_eq(replay("{\"subsystems\":[{\"subsystem\":\"a\",\"config\":["
                        " {\"method\":\"no_such_method\"}]}]}"), 0);
    cr_assert_eq(g_status, -EINVAL);
}

Test(rpc_config, bad_entry_shapes_fail)
{
    cr_assert_eq(replay("{\"subsystems\":[{\"subsystem\":\"a\",\"config\":[{\"params\":{}}]}]}"), 0);
    cr_assert_eq(g_status, -EINVAL, "entry without a method");
}

Test(rpc_config, bad_subsystem_shapes_fail)
{
    cr_assert_eq(replay("{\"subsystems\":[{\"config\":[]}]}"), 0);
    cr_assert_eq(g_status, -EINVAL, "subsystem without a name");
}

Test(rpc_config, config_must_be_an_array)
{
    cr_assert_eq(replay("{\"subsystems\":[{\"subsystem\":\"a\",\"config\":{}}]}"), 0);
    cr_assert_eq(g_status, -EINVAL);
}

Test(rpc_config, unreadable_input_fails_at_once)
{
    cr_assert_eq(replay("{\"subsystems\": [ "), -EINVAL, "truncated JSON");
    cr_assert_eq(replay("[]"), -EINVAL, "no subsystems object");
    cr_assert_eq(replay("{\"subsystems\":{}}"), -EINVAL);
    cr_assert_eq(replay("{\"subsystems\":[],\"subsystems\":[]}"), -EINVAL, "duplicate keys");
    cr_assert_eq(tern_rpc_config_load_file("/nonexistent/tern.json", done, NULL), -ENOENT);
    cr_assert_eq(g_done_calls, 0, "done is not called when the replay never started");
}

Test(rpc_config, files_are_read)
{
    char path[] = "/tmp/tern_ut_cfg_XXXXXX";
    int fd = mkstemp(path);
    const char *text = "{\"subsystems\":[{\"subsystem\":\"a\",\"config\":["
                       "{\"method\":\"ut_cfg_record\",\"params\":{\"tag\":\"f\"}}]}]}";

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cr_assert_eq(tern_rpc_config_load_file(path, done, NULL), 0);
    cr_assert_eq(tern_reactors_start(), 0);
    unlink(path);
    cr_assert_eq(g_status, 0);
    cr_assert_str_eq(g_seen[0], "f");
}
