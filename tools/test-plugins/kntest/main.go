// kntest: kubenest's own Go test plugin (vCluster plugin protocol v2) on hashicorp/go-plugin, for
// what the vcluster-sdk examples do not cover. Its behaviour comes from PLUGIN_CONFIG (YAML, the
// entry's `config`), which it checks strictly: an unknown or missing field fails Initialize.
//
//	label: NAME        required: ConfigMaps reaching the host get label kntest-NAME=yes (CreatePhysical, UpdatePhysical)
//	noop: true         the ConfigMap hook answers mutated=false (the benchmark's no-op hook)
//	echo: {...}        any YAML: written as JSON into the annotation kntest/echo, to show the config arrived whole
//	interceptor: true  declares and serves (plain HTTP on 127.0.0.1:<InitConfig.port>) two interceptors:
//	                   "kntest-pods" (get pods named kntest-pod, so pods/kntest-pod/log too) and
//	                   "kntest-url" (get of the non-resource URLs /kntest/*); GET /kntest/requests
//	                   lists the requests it answered before, each with whether it carried credentials
//	import: {namespace, name}  after SetLeader, copies that host ConfigMap into the virtual cluster
//	                   (same namespace, which must exist there), and again every second
//	flood: MiB         after Initialize, writes MiB of lines to each of stdout and stderr (both the raw
//	                   descriptors and go-plugin's GRPCStdio), plus one line of MiB without a newline;
//	                   when every write returned (the host drained them all) it writes flood-done in its working dir
//	mode: bad-cookie | bad-protocol   a go-plugin handshake vCluster cannot speak
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"sigs.k8s.io/yaml"

	"kubenest.test/testplugins/pluginv2"
)

type importRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

type config struct {
	Label       string          `json:"label"`
	Echo        json.RawMessage `json:"echo,omitempty"`
	Noop        bool            `json:"noop,omitempty"`
	Interceptor bool            `json:"interceptor,omitempty"`
	Import      *importRef      `json:"import,omitempty"`
	Flood       int             `json:"flood,omitempty"`
	Mode        string          `json:"mode,omitempty"`
}

// readConfig parses PLUGIN_CONFIG strictly; its error names the field.
func readConfig() (config, error) {
	var c config
	raw := os.Getenv("PLUGIN_CONFIG")
	if raw == "" || strings.TrimSpace(raw) == "null" {
		return c, errors.New("PLUGIN_CONFIG is empty: this plugin needs at least `label`")
	}
	if err := yaml.UnmarshalStrict([]byte(raw), &c); err != nil {
		return c, fmt.Errorf("PLUGIN_CONFIG is not valid YAML for this plugin: %v", err)
	}
	if c.Label == "" {
		return c, errors.New("PLUGIN_CONFIG: `label` is required")
	}
	if c.Import != nil && (c.Import.Namespace == "" || c.Import.Name == "") {
		return c, errors.New("PLUGIN_CONFIG: `import` needs `namespace` and `name`")
	}
	return c, nil
}

type server struct {
	config    config
	configErr error
	init      struct{ host, virtual []byte }
	mutates   atomic.Int64
	served    struct {
		sync.Mutex
		list []servedRequest
	}
}

type servedRequest struct {
	Handler     string `json:"handler"`
	Method      string `json:"method"`
	Path        string `json:"path"`
	Credentials bool   `json:"credentials"`
}

type initConfig struct {
	WorkloadConfig []byte `json:"workloadConfig"`
	SyncerConfig   []byte `json:"syncerConfig"`
	Port           int    `json:"port"`
	WorkingDir     string `json:"workingDir"`
}

func (s *server) Initialize(_ context.Context, req *pluginv2.Initialize_Request) (*pluginv2.Initialize_Response, error) {
	if s.configErr != nil {
		return nil, s.configErr
	}
	var init initConfig
	if err := json.Unmarshal([]byte(req.GetConfig()), &init); err != nil {
		return nil, fmt.Errorf("InitConfig: %v", err)
	}
	if len(init.WorkloadConfig) == 0 || len(init.SyncerConfig) == 0 || init.Port == 0 {
		return nil, errors.New("InitConfig lacks workloadConfig, syncerConfig or port")
	}
	s.init.host, s.init.virtual = init.WorkloadConfig, init.SyncerConfig
	fmt.Fprintf(os.Stderr, "[INFO] kntest initialized: label %q, interceptor port %d\n", s.config.Label, init.Port)
	if s.config.Flood > 0 {
		go flood(s.config.Flood, init.WorkingDir)
	}
	if s.config.Interceptor {
		// As the Go SDK does: 127.0.0.1:<port>, whether leader or not; a port it cannot bind fails the start.
		listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", init.Port))
		if err != nil {
			return nil, fmt.Errorf("interceptor port: %v", err)
		}
		go func() { _ = http.Serve(listener, http.HandlerFunc(s.intercept)) }()
	}
	return &pluginv2.Initialize_Response{}, nil
}

func (s *server) GetPluginConfig(context.Context, *pluginv2.GetPluginConfig_Request) (*pluginv2.GetPluginConfig_Response, error) {
	out := map[string]any{
		"clientHooks": []map[string]any{{"apiVersion": "v1", "kind": "ConfigMap", "types": []string{"CreatePhysical", "UpdatePhysical"}}},
	}
	if s.config.Interceptor {
		out["interceptors"] = map[string]any{
			"kntest-pods": []map[string]any{{"apiGroups": []string{""}, "resources": []string{"pods"}, "resourceNames": []string{"kntest-pod"}, "verbs": []string{"get"}}},
			"kntest-url":  []map[string]any{{"nonResourceURLs": []string{"/kntest/*"}, "verbs": []string{"get"}}},
		}
	}
	b, _ := json.Marshal(out)
	return &pluginv2.GetPluginConfig_Response{Config: string(b)}, nil
}

// intercept answers what the front door sends for the rules of GetPluginConfig, dispatching on
// the handler name as the Go SDK does.
func (s *server) intercept(w http.ResponseWriter, r *http.Request) {
	handler := r.Header.Get("Vcluster-Plugin-Handler-Name")
	credentials := r.Header.Get("Authorization") != "" || r.Header.Get("Impersonate-User") != "" || r.Header.Get("X-Remote-User") != ""
	if r.URL.Path == "/kntest/requests" {
		s.served.Lock()
		list := append([]servedRequest{}, s.served.list...)
		s.served.Unlock()
		writeJSON(w, 200, map[string]any{"requests": list})
		return
	}
	s.served.Lock()
	s.served.list = append(s.served.list, servedRequest{Handler: handler, Method: r.Method, Path: r.URL.Path, Credentials: credentials})
	s.served.Unlock()
	switch handler {
	case "kntest-pods":
		if strings.HasSuffix(r.URL.Path, "/log") {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = fmt.Fprintf(w, "kntest answered %s\n", r.URL.Path)
			return
		}
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		namespace := ""
		if len(parts) > 3 && parts[2] == "namespaces" {
			namespace = parts[3]
		}
		writeJSON(w, 200, map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "kntest-pod", "namespace": namespace, "creationTimestamp": "2026-01-01T00:00:00Z",
				"annotations": map[string]any{"kntest/answered-by": handler, "kntest/credentials": fmt.Sprint(credentials)}},
			"spec":   map[string]any{"containers": []map[string]any{{"name": "answer", "image": "kntest"}}},
			"status": map[string]any{"phase": "Running"},
		})
	case "kntest-url":
		writeJSON(w, 200, map[string]any{"handler": handler, "path": r.URL.Path, "credentials": credentials})
	default:
		writeJSON(w, 500, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500, "reason": "InternalError",
			"message": fmt.Sprintf("kntest: no interceptor %q", handler)})
	}
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func (s *server) Mutate(_ context.Context, req *pluginv2.Mutate_Request) (*pluginv2.Mutate_Response, error) {
	s.mutates.Add(1)
	if s.config.Noop {
		return &pluginv2.Mutate_Response{Mutated: false}, nil
	}
	var object map[string]any
	if err := json.Unmarshal([]byte(req.GetObject()), &object); err != nil {
		return nil, fmt.Errorf("kntest: the object is not JSON: %v", err)
	}
	meta, _ := object["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		object["metadata"] = meta
	}
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	labels["kntest-"+s.config.Label] = "yes"
	meta["labels"] = labels
	if len(s.config.Echo) > 0 {
		annotations, _ := meta["annotations"].(map[string]any)
		if annotations == nil {
			annotations = map[string]any{}
		}
		annotations["kntest/echo"] = string(s.config.Echo)
		meta["annotations"] = annotations
	}
	b, err := json.Marshal(object)
	if err != nil {
		return nil, err
	}
	return &pluginv2.Mutate_Response{Object: string(b), Mutated: true}, nil
}

func (s *server) SetLeader(context.Context, *pluginv2.SetLeader_Request) (*pluginv2.SetLeader_Response, error) {
	fmt.Fprintln(os.Stderr, "[INFO] kntest is leader")
	if s.config.Import != nil {
		go s.importLoop()
	}
	return &pluginv2.SetLeader_Response{}, nil
}

// importLoop copies the host ConfigMap named in `import` into the virtual cluster, every second.
func (s *server) importLoop() {
	host, err := newKubeClient(s.init.host)
	if err != nil {
		fmt.Fprintf(os.Stderr, "[ERROR] import: host kubeconfig: %v\n", err)
		return
	}
	virtual, err := newKubeClient(s.init.virtual)
	if err != nil {
		fmt.Fprintf(os.Stderr, "[ERROR] import: virtual kubeconfig: %v\n", err)
		return
	}
	ref := s.config.Import
	path := fmt.Sprintf("/api/v1/namespaces/%s/configmaps", ref.Namespace)
	for {
		if err := importOnce(host, virtual, path, ref.Name); err != nil {
			fmt.Fprintf(os.Stderr, "[WARN] import %s/%s: %v\n", ref.Namespace, ref.Name, err)
		}
		time.Sleep(time.Second)
	}
}

func importOnce(host, virtual *kubeClient, path, name string) error {
	var source map[string]any
	if code, err := host.do("GET", path+"/"+name, nil, &source); err != nil || code != 200 {
		return fmt.Errorf("host GET: %d %v", code, err)
	}
	imported := map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"imported-by": "kntest"}},
		"data":     source["data"],
	}
	var existing map[string]any
	code, err := virtual.do("GET", path+"/"+name, nil, &existing)
	if err != nil {
		return err
	}
	if code == 404 {
		code, err = virtual.do("POST", path, imported, nil)
	} else {
		imported["metadata"].(map[string]any)["resourceVersion"] = existing["metadata"].(map[string]any)["resourceVersion"]
		code, err = virtual.do("PUT", path+"/"+name, imported, nil)
	}
	if err != nil || code >= 300 {
		return fmt.Errorf("virtual write: %d %v", code, err)
	}
	return nil
}

// flood writes mib MiB of 1 KiB lines to each stream, and one line of mib MiB with no newline.
func flood(mib int, workingDir string) {
	line := []byte(strings.Repeat("x", 1023) + "\n")
	rawOut, rawErr := os.NewFile(1, "stdout"), os.NewFile(2, "stderr")
	var done sync.WaitGroup
	for _, w := range []io.Writer{rawOut, rawErr, os.Stdout, os.Stderr} {
		done.Add(1)
		go func(w io.Writer) {
			defer done.Done()
			for i := 0; i < mib*1024; i++ {
				_, _ = w.Write(line)
			}
			_, _ = w.Write(bytes.Repeat([]byte("y"), mib<<20))
			_, _ = w.Write([]byte("\n[INFO] kntest flood done\n"))
		}(w)
	}
	done.Wait()
	_ = os.WriteFile(filepath.Join(workingDir, "flood-done"), []byte("done\n"), 0o644)
}

type kubeconfig struct {
	Clusters []struct {
		Cluster struct {
			Server string `json:"server"`
			CA     []byte `json:"certificate-authority-data"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		User struct {
			Cert  []byte `json:"client-certificate-data"`
			Key   []byte `json:"client-key-data"`
			Token string `json:"token"`
		} `json:"user"`
	} `json:"users"`
}

type kubeClient struct {
	server string
	token  string
	http   *http.Client
}

// newKubeClient reads a kubeconfig with inlined data (as InitConfig carries them).
func newKubeClient(raw []byte) (*kubeClient, error) {
	var kc kubeconfig
	if err := yaml.Unmarshal(raw, &kc); err != nil {
		return nil, err
	}
	if len(kc.Clusters) == 0 || len(kc.Users) == 0 {
		return nil, errors.New("no cluster or user")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(kc.Clusters[0].Cluster.CA)
	tlsConfig := &tls.Config{RootCAs: pool}
	if user := kc.Users[0].User; len(user.Cert) > 0 {
		pair, err := tls.X509KeyPair(user.Cert, user.Key)
		if err != nil {
			return nil, err
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}
	return &kubeClient{server: kc.Clusters[0].Cluster.Server, token: kc.Users[0].User.Token,
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}}, nil
}

func (c *kubeClient) do(method, path string, body any, out any) (int, error) {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.server+path, reader)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl *server
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&pluginv2.ServiceDesc, p.impl)
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("kntest is a plugin, not a host")
}

func main() {
	c, err := readConfig()
	// A bad config is reported by Initialize (the host names the plugin and quotes it), as a Go SDK
	// plugin reports its own start-up errors.
	handshake := plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "VCLUSTER_PLUGIN", MagicCookieValue: "vcluster"}
	switch c.Mode {
	case "bad-cookie":
		handshake.MagicCookieValue = "not-vcluster"
	case "bad-protocol":
		handshake.ProtocolVersion = 7
	case "":
	default:
		if err == nil {
			err = fmt.Errorf("PLUGIN_CONFIG: unknown mode %q (bad-cookie, bad-protocol)", c.Mode)
		}
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         map[string]plugin.Plugin{"plugin": &grpcPlugin{impl: &server{config: c, configErr: err}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
