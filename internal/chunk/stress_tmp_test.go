package chunk

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

func TestStressTmp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alpha := []byte("ab AZ09.!?\n\x00\x01\x02\x0a\x13\x1a\xff\xe2\x82\xac\xe6\x97\xa5 -_/+")
	for it := 0; it < 200000; it++ {
		n := r.IntN(300)
		data := make([]byte, n)
		for i := range data {
			data[i] = alpha[r.IntN(len(alpha))]
		}
		mt, ov := uint16(r.IntN(700)), uint8(r.IntN(256))
		done := make(chan bool)
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				os.WriteFile("/tmp/hang.bin", data, 0o644)
				println("HANG", mt, ov)
				os.Exit(3)
			}
		}()
		fuzzBody(t, data, mt, ov)
		close(done)
	}
}

func watchdog(data []byte, mt uint16, ov uint8) func() {
	done := make(chan bool)
	go func() {
		select {
		case <-done:
		case <-time.After(4 * time.Second):
			os.WriteFile("/tmp/hang.bin", data, 0o644)
			os.WriteFile("/tmp/hang.txt", []byte(fmt.Sprint(mt, " ", ov)), 0o644)
			panic("hang")
		}
	}()
	return func() { close(done) }
}
