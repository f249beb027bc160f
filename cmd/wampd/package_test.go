package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// instruction is one instruction of a Dockerfile, continuation lines
// joined.
type instruction struct {
	cmd, args string // cmd in capitals
}

// parseDockerfile returns the instructions of the Dockerfile at path,
// by stage (split at each FROM, which starts its stage).
func parseDockerfile(tb testing.TB, path string) [][]instruction {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var stages [][]instruction
	var line string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if line == "" && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			line += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		line += l
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		line = ""
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			continue // ARG before the first FROM
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	return stages
}

// execForm decodes the JSON array of an exec-form CMD or ENTRYPOINT.
func execForm(tb testing.TB, s string) []string {
	tb.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(s), &argv); err != nil {
		tb.Fatalf("%s: not the exec form: %v", s, err)
	}
	return argv
}

// TestDockerfile runs the build stage of the repository's Dockerfile as a
// script (its ENV, and its RUN lines in the repository root, with /out
// redirected to a temporary directory), since docker cannot run here.
// It checks that the binary is static and reports the version passed
// as a build argument, and that the final stage runs it as a non-root
// user with a health check on the port its arguments give the admin
// listener. Then it runs the binary as the image would (with port 0):
// the health check mode answers, SIGHUP reloads the configuration and
// SIGTERM ends it with status 0.
func TestDockerfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wampd")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, image)", len(stages))
	}

	// The build stage, as a script.
	out := t.TempDir()
	env := append(os.Environ(), "VERSION=v0.0.0-dockerfile-test", "PATH="+filepath.Dir(goCmd)+":"+os.Getenv("PATH"))
	var runs int
	for _, in := range stages[0] {
		switch in.cmd {
		case "ENV":
			env = append(env, strings.Fields(in.args)...)
		case "RUN":
			runs++
			script := strings.ReplaceAll(in.args, "/out/", out+"/")
			cmd := exec.Command("sh", "-c", script)
			cmd.Dir, cmd.Env = root, env
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("RUN %s: %v\n%s", in.args, err, b)
			}
		}
	}
	if runs == 0 {
		t.Fatal("the build stage runs nothing")
	}
	bin := filepath.Join(out, "wampd")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the build stage made no ELF binary at /out/wampd: %v", err)
	}
	libs, _ := f.ImportedLibraries()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			libs = append(libs, "an interpreter")
		}
	}
	f.Close()
	if len(libs) > 0 {
		t.Errorf("wampd is not static: it needs %v", libs)
	}
	if v, err := exec.Command(bin, "-version").Output(); err != nil || string(v) != "wampd v0.0.0-dockerfile-test\n" {
		t.Errorf("wampd -version = %q, %v; want the VERSION build argument", v, err)
	}

	// The image.
	image := map[string][]string{}
	for _, in := range stages[1] {
		image[in.cmd] = append(image[in.cmd], in.args)
	}
	if got := stages[1][0].args; got != "scratch" {
		t.Errorf("the image is FROM %s, want scratch", got)
	}
	user := strings.Join(image["USER"], "")
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q, want a user other than root", user)
	}
	entry := execForm(t, strings.Join(image["ENTRYPOINT"], ""))
	args := execForm(t, strings.Join(image["CMD"], ""))
	if !slices.Equal(entry, []string{"/wampd"}) {
		t.Errorf("ENTRYPOINT %v, want [/wampd]", entry)
	}
	ports := map[string]string{} // flag -> port
	for i := 0; i+1 < len(args); i += 2 {
		_, port, err := net.SplitHostPort(args[i+1])
		if err != nil {
			t.Fatalf("CMD %v: %s %s: %v", args, args[i], args[i+1], err)
		}
		ports[args[i]] = port
	}
	var exposed []string
	for _, e := range image["EXPOSE"] {
		exposed = append(exposed, strings.Fields(e)...)
	}
	if want := []string{ports["-ws"], ports["-rawsocket"], ports["-admin"]}; !cmp.Equal(exposed, want) {
		t.Errorf("EXPOSE %v, want the ports of CMD's -ws, -rawsocket and -admin %v", exposed, want)
	}
	hc := strings.Join(image["HEALTHCHECK"], "")
	_, hcArgs, ok := strings.Cut(hc, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %q has no CMD", hc)
	}
	probe := execForm(t, hcArgs)
	if len(probe) != 3 || probe[0] != "/wampd" || probe[1] != "-healthcheck" {
		t.Fatalf("HEALTHCHECK CMD %v, want [/wampd -healthcheck URL]", probe)
	}
	if u, err := url.Parse(probe[2]); err != nil || u.Port() != ports["-admin"] || u.Path != "/healthz" {
		t.Errorf("HEALTHCHECK asks %s, want /healthz on the admin port %s", probe[2], ports["-admin"])
	}

	// The binary, run with the image's arguments on port 0 and a
	// configuration file.
	config := filepath.Join(t.TempDir(), "wampd.yaml")
	writeFile(t, config, "log: {format: json}\n")
	var runArgs []string
	for i := 0; i+1 < len(args); i += 2 {
		runArgs = append(runArgs, args[i], "127.0.0.1:0")
	}
	p := startProcess(t, bin, append(runArgs, "-config", config)...)
	admin := p.waitLog(t, func(l map[string]any) bool { return l["msg"] == "listening" && l["transport"] == "admin" })["address"]
	probe[2] = strings.Replace(probe[2], "127.0.0.1:"+ports["-admin"], admin.(string), 1)
	if b, err := exec.Command(bin, probe[1:]...).CombinedOutput(); err != nil || string(b) != "ok\n" {
		t.Errorf("%v = %q, %v; want ok and status 0", probe, b, err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, func(l map[string]any) bool { return l["msg"] == "reload: configuration unchanged" })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		t.Errorf("wampd after SIGTERM: %v, want status 0", err)
	}
	p.waitLog(t, func(l map[string]any) bool { return l["msg"] == "stopped" })
	down := exec.Command(bin, probe[1:]...)
	if err := down.Run(); down.ProcessState == nil || down.ProcessState.ExitCode() != 1 {
		t.Errorf("%v against a stopped wampd: %v, want status 1", probe, err)
	}
}

// process is a wampd process whose JSON log is read as it comes.
type process struct {
	cmd   *exec.Cmd
	ended chan struct{} // closed once the log is read and the process has ended
	err   error         // of cmd.Wait; written before ended is closed

	mu    sync.Mutex
	lines []map[string]any // guarded by mu
}

func startProcess(tb testing.TB, bin string, args ...string) *process {
	tb.Helper()
	p := &process{cmd: exec.Command(bin, args...), ended: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		defer close(p.ended)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				l = map[string]any{"msg": sc.Text()} // not JSON: an error message
			}
			p.mu.Lock()
			p.lines = append(p.lines, l)
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait() // after the reads, as StderrPipe requires
	}()
	tb.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.ended
	})
	return p
}

// wait waits for the process to end and returns how it ended.
func (p *process) wait() error {
	<-p.ended
	return p.err
}

// waitLog polls until a line of the log satisfies match, and returns it.
func (p *process) waitLog(tb testing.TB, match func(map[string]any) bool) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if match(l) {
				p.mu.Unlock()
				return l
			}
		}
		lines := fmt.Sprint(p.lines)
		p.mu.Unlock()
		select {
		case <-p.ended:
			tb.Fatalf("wampd ended without the log line; its log: %s", lines)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no such log line; the log: %s", lines)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
