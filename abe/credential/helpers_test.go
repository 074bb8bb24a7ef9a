package credential_test

import "math/big"

type bigInt = big.Int

func encodeSig(r, s []byte) []byte {
	enc := func(v []byte) []byte {
		if len(v) > 0 && v[0]&0x80 != 0 {
			v = append([]byte{0}, v...)
		}
		return append([]byte{0x02, byte(len(v))}, v...)
	}
	body := append(enc(r), enc(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}
