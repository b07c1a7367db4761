package client

import "github.com/varta-ptt/varta/crypto/groupkey"

// BurstSigner starts the signature of one burst this unit sends on tg,
// with the unit's own Ed25519 key.
func (v *Crypto) BurstSigner(tg uint16) (*groupkey.BurstSigner, error) {
	return groupkey.NewBurstSigner(v.id.SigningKey, tg, v.id.UnitID)
}
