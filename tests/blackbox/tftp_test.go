package blackbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	pintftp "github.com/pin/tftp"
)

// tftpSyncName is a file name only startTFTP's cleanup asks for.
const tftpSyncName = "_blackbox_tftp_sync_"

// startTFTP serves files (by name) over TFTP on 127.0.0.1 until t ends and
// returns the server's "tftp://127.0.0.1:port". Names in sized are served
// with their size announced; any name not in files is answered with an
// error packet with code 1 (file not found).
func startTFTP(t *testing.T, files map[string][]byte, sized []string) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("TFTP server: %v", err)
	}
	served := make(chan struct{})
	var once sync.Once
	s := pintftp.NewServer(func(name string, rf io.ReaderFrom) error {
		once.Do(func() { close(served) })
		if name == tftpSyncName {
			return errors.New("sync")
		}
		data, ok := files[name]
		if !ok {
			return fmt.Errorf("%s: no such file", name)
		}
		if slices.Contains(sized, name) {
			rf.(pintftp.OutgoingTransfer).SetSize(int64(len(data)))
		}
		_, err := rf.ReadFrom(bytes.NewReader(data))
		return err
	}, nil)
	// Short so that a transfer the client walked away from ends soon.
	s.SetTimeout(500 * time.Millisecond)
	s.SetRetries(3)
	go s.Serve(conn)
	t.Cleanup(func() {
		// Shutdown uses what Serve sets up when it starts: a request that
		// reached the handler proves it has (and orders the two). When no
		// scenario request did, one is sent for the purpose.
		select {
		case <-served:
		default:
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Errorf("TFTP sync socket: %v", err)
				return
			}
			defer c.Close()
			rrq := append([]byte{0, 1}, tftpSyncName+"\x00octet\x00"...)
			for tries := 0; ; tries++ {
				if tries == 100 {
					t.Error("the TFTP server never answered; not shut down")
					return
				}
				if _, err := c.WriteToUDP(rrq, conn.LocalAddr().(*net.UDPAddr)); err != nil {
					t.Errorf("TFTP sync request: %v", err)
					return
				}
				select {
				case <-served:
				case <-time.After(50 * time.Millisecond):
					continue
				}
				break
			}
		}
		s.Shutdown()
	})
	return "tftp://" + conn.LocalAddr().String()
}
